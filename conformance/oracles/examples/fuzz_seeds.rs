//! Writes the fuzz seeds, dictionaries and `.options` files from the
//! deterministic fixture (see `sealwire_oracles::seeds`):
//!
//! ```text
//! cargo run -p sealwire-oracles --example fuzz_seeds [-- <dir>]
//! ```
//!
//! The default directory is this crate's (`conformance/oracles/`), where
//! `fuzz/ci.sh`, `.clusterfuzzlite/build.sh` and the replay test read them. Existing seeds of the
//! same name are overwritten; other files are left alone.

use std::path::PathBuf;

use sealwire_oracles::{Target, seeds};

fn main() -> std::io::Result<()> {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    assert!(
        seeds::schedules_round_trip(),
        "conversation schedules do not decode back from their encoding"
    );
    let mut count = 0;
    for seed in seeds::seeds() {
        let target_dir = dir.join("seeds").join(seed.target.name());
        std::fs::create_dir_all(&target_dir)?;
        std::fs::write(target_dir.join(&seed.name), &seed.data)?;
        count += 1;
    }
    std::fs::create_dir_all(dir.join("dict"))?;
    std::fs::create_dir_all(dir.join("options"))?;
    for target in Target::ALL {
        let name = target.name();
        std::fs::write(
            dir.join("dict").join(format!("{name}.dict")),
            seeds::dictionary(target),
        )?;
        std::fs::write(
            dir.join("options").join(format!("{name}.options")),
            seeds::options(target),
        )?;
    }
    println!(
        "wrote {count} seeds, {} dictionaries and options files under {}",
        Target::ALL.len(),
        dir.display()
    );
    Ok(())
}
