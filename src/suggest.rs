//! "Did you mean …?": the closest known word to a mistyped one, by edit distance, as Ninja
//! and cargo suggest targets and subcommands.

/// The candidate closest to `word`, if it is close enough to be what was meant: at most a
/// third of the word's length away (at least 1, at most 3 edits), ties to the first listed.
pub fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).clamp(1, 3);
    candidates
        .into_iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// ` (did you mean `x`?)` or nothing, to append to a message.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> String {
    closest(word, candidates).map(|c| format!("; did you mean `{c}`?")).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_near_misses_only() {
        let names = ["sprites", "sfx", "level1_map", "tile_bank"];
        assert_eq!(closest("sprits", names), Some("sprites"));
        assert_eq!(closest("tilebank", names), Some("tile_bank"));
        assert_eq!(closest("levle1_map", names), Some("level1_map"), "a swap is one edit");
        assert_eq!(closest("music", names), None);
        assert_eq!(did_you_mean("sfz", names), "; did you mean `sfx`?");
        assert_eq!(did_you_mean("zzzzzz", names), "");
    }
}
