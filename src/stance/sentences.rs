//! Splitting text into sentences: at `.`, `!` or `?` followed by white space and a capital,
//! digit or quote, and at line breaks — but not after common abbreviations or initials
//! ("U.S.", "Inc.", "A.I."), which would cut a sentence about an organisation in two.

const ABBREVIATIONS: &[&str] = &[
    "mr", "mrs", "ms", "dr", "prof", "inc", "corp", "co", "ltd", "jr", "sr", "st", "vs", "etc", "e.g", "i.e", "u.s",
    "u.k", "a.i", "no", "fig", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
];

/// Sentences of `text`, trimmed, empty ones dropped.
pub fn split(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    for line in text.split('\n') {
        let mut start = 0;
        let bytes = line.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if (c == b'.' || c == b'!' || c == b'?') && ends_sentence(line, i) {
                push(&mut out, &line[start..=i]);
                start = i + 1;
            }
            i += 1;
        }
        push(&mut out, &line[start..]);
    }
    out
}

fn push<'a>(out: &mut Vec<&'a str>, s: &'a str) {
    let s = s.trim();
    if !s.is_empty() {
        out.push(s);
    }
}

fn ends_sentence(line: &str, at: usize) -> bool {
    let rest = &line[at + 1..];
    // Must be followed by white space, then a capital letter, digit or opening quote.
    let Some(after_space) = rest.strip_prefix(|c: char| c.is_whitespace()) else { return false };
    let Some(next) = after_space.trim_start().chars().next() else { return false };
    if !(next.is_uppercase() || next.is_ascii_digit() || matches!(next, '"' | '\'' | '“' | '‘' | '(')) {
        return false;
    }
    if line.as_bytes()[at] != b'.' {
        return true;
    }
    // The word before the full stop: an abbreviation or a single initial does not end a sentence.
    let word = line[..at].rsplit(|c: char| c.is_whitespace() || c == '(').next().unwrap_or("");
    let lower = word.to_lowercase();
    !(ABBREVIATIONS.contains(&lower.as_str()) || (word.chars().count() == 1 && word.chars().all(char::is_uppercase)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_terminators_and_lines() {
        assert_eq!(split("One. Two! Three? four"), ["One.", "Two!", "Three? four"]);
        assert_eq!(split("Title line\nBody one. Body two."), ["Title line", "Body one.", "Body two."]);
    }

    #[test]
    fn keeps_abbreviations_and_numbers_together() {
        assert_eq!(
            split("The U.S. Commerce Department said so. Then more."),
            ["The U.S. Commerce Department said so.", "Then more."]
        );
        assert_eq!(
            split("Meta Platforms Inc. released Llama 3.1 today."),
            ["Meta Platforms Inc. released Llama 3.1 today."]
        );
        assert_eq!(split("Mark E. Zuckerberg spoke."), ["Mark E. Zuckerberg spoke."]);
    }
}
