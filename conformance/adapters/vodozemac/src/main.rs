//! The vodozemac black-box adapter on stdin, stdout and stderr (README.md).

fn main() {
    let stdin = std::io::stdin();
    sealwire_vodozemac_adapter::serve(stdin.lock(), std::io::stdout().lock(), std::io::stderr());
}
