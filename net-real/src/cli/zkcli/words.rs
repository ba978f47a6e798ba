//! A command line split as zkCli splits it (whitespace, with `"..."` and `'...'` quoting), and
//! its options parsed as commons-cli's `PosixParser` does for zkCli's commands: flags and
//! options with a value may come anywhere among the arguments.

/// A parsed command: its name, flags seen (with their values) and positional arguments.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Words {
    pub name: String,
    pub flags: Vec<(char, Option<String>)>,
    pub args: Vec<String>,
}

impl Words {
    pub fn has(&self, flag: char) -> bool {
        self.flags.iter().any(|(f, _)| *f == flag)
    }

    pub fn value(&self, flag: char) -> Option<&str> {
        self.flags.iter().find(|(f, _)| *f == flag).and_then(|(_, v)| v.as_deref())
    }
}

/// Splits a line into words, honouring quotes. `Err` names an unclosed quote.
pub fn split(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if quote.is_some() {
        return Err("unclosed quote".to_string());
    }
    if in_word {
        words.push(current);
    }
    Ok(words)
}

/// Parses `words` for a command whose flags are `flags` (a letter, and whether it takes a
/// value). `Err` names an unknown flag or a missing value.
pub fn parse(words: Vec<String>, flags: &[(char, bool)]) -> Result<Words, String> {
    let mut iter = words.into_iter();
    let mut parsed = Words { name: iter.next().unwrap_or_default(), ..Words::default() };
    while let Some(word) = iter.next() {
        let letter = word.strip_prefix('-').filter(|rest| rest.len() == 1).and_then(|rest| rest.chars().next());
        match letter.map(|l| (l, flags.iter().find(|(f, _)| *f == l))) {
            Some((letter, Some((_, true)))) => {
                let value = iter.next().ok_or_else(|| format!("Missing argument for option: {letter}"))?;
                parsed.flags.push((letter, Some(value)));
            }
            Some((letter, Some((_, false)))) => parsed.flags.push((letter, None)),
            Some((letter, None)) if !word[1..].starts_with(|c: char| c.is_ascii_digit()) => {
                return Err(format!("Unrecognized option: -{letter}"));
            }
            _ => parsed.args.push(word),
        }
    }
    Ok(parsed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_with_quotes_and_parses_flags_anywhere() {
        assert_eq!(split(r#"set /a "two words" "#).unwrap(), ["set", "/a", "two words"]);
        assert_eq!(split("create /a ''").unwrap(), ["create", "/a", ""]);
        assert!(split("get \"/a").is_err());
        let words = parse(split("set /a -v 3 data").unwrap(), &[('s', false), ('v', true)]).unwrap();
        assert_eq!((words.value('v'), words.args.as_slice()), (Some("3"), &["/a".to_string(), "data".to_string()][..]));
        assert!(parse(split("ls -x /").unwrap(), &[('s', false)]).is_err());
    }
}
