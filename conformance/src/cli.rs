//! Option parsing shared by the subcommands: `--name value`,
//! `--name=value`, and flags.

/// Reads a subcommand's options one by one.
#[derive(Debug)]
pub(crate) struct OptionParser<'a> {
    args: std::slice::Iter<'a, String>,
    inline: Option<&'a str>,
}

impl<'a> OptionParser<'a> {
    /// Options from `args` (after the subcommand's name).
    pub(crate) fn new(args: &'a [String]) -> Self {
        Self {
            args: args.iter(),
            inline: None,
        }
    }

    /// The next option's name; for `--name=value` the value is kept for
    /// [`OptionParser::value`].
    pub(crate) fn next_name(&mut self) -> Option<&'a str> {
        let arg = self.args.next()?;
        match arg.split_once('=') {
            Some((name, value)) if name.starts_with("--") => {
                self.inline = Some(value);
                Some(name)
            }
            _ => {
                self.inline = None;
                Some(arg.as_str())
            }
        }
    }

    /// The value of the option `name` just read: inline, or the next
    /// argument.
    pub(crate) fn value(&mut self, name: &str) -> Result<String, String> {
        self.inline
            .take()
            .map(str::to_owned)
            .or_else(|| self.args.next().cloned())
            .ok_or_else(|| format!("{name} needs a value"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_separate_and_missing_values() {
        let args: Vec<String> = ["--a=1", "--b", "2", "--flag", "--c"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let mut p = OptionParser::new(&args);
        assert_eq!(p.next_name(), Some("--a"));
        assert_eq!(p.value("--a"), Ok("1".to_owned()));
        assert_eq!(p.next_name(), Some("--b"));
        assert_eq!(p.value("--b"), Ok("2".to_owned()));
        assert_eq!(p.next_name(), Some("--flag"));
        assert_eq!(p.next_name(), Some("--c"));
        assert_eq!(p.value("--c"), Err("--c needs a value".to_owned()));
        assert_eq!(p.next_name(), None);
    }
}
