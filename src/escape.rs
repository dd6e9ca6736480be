//! Every escaping packer does, one function per reader: Ninja's ([`ninja`], [`value`]), the
//! shell's ([`shell`], and [`unshell`] for what Ninja quoted), and a Make-style depfile's
//! ([`depfile`]).
//!
//! A path in a `build` line goes through [`ninja`] only. A path that ends up inside a command
//! goes through [`shell`] first (so `/bin/sh` keeps it one word) and then [`ninja`] (so Ninja
//! reads the bytes back unchanged), because Ninja expands variables into the command text
//! before handing it to `/bin/sh -c`. Each is tested through its real reader: `/bin/sh` here,
//! Ninja's manifest and depfile parsers in the end-to-end suite (`names`).

/// Escapes `s` for a Ninja path or variable value: `$` → `$$`, space → `$ `, `:` → `$:`.
/// Fails on newlines and other control characters, which Ninja cannot represent.
pub fn ninja(s: &str) -> Result<String, char> {
    let mut out = String::with_capacity(s.len() + 4);
    for c in s.chars() {
        match c {
            '$' => out.push_str("$$"),
            ' ' => out.push_str("$ "),
            ':' => out.push_str("$:"),
            c if c.is_control() => return Err(c),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Escapes `s` for a variable value that is never a path (a description): only `$` and a
/// leading space, which Ninja would drop, need it. Fails as [`ninja`] does.
pub fn value(s: &str) -> Result<String, char> {
    let mut out = String::with_capacity(s.len() + 2);
    for (i, c) in s.chars().enumerate() {
        match c {
            '$' => out.push_str("$$"),
            ' ' if i == 0 => out.push_str("$ "),
            c if c.is_control() => return Err(c),
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Quotes `s` as one POSIX shell word: unchanged when every byte is harmless, else wrapped in
/// single quotes with each `'` written as `'\''`.
pub fn shell(s: &str) -> String {
    let harmless = |c: char| c.is_ascii_alphanumeric() || "_-./=+,@%".contains(c);
    if !s.is_empty() && s.chars().all(harmless) {
        return s.to_string();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// Escapes a path for a Make-style depfile (`target: dep dep …`), as GCC writes them and
/// Ninja's and Make's depfile parsers read them: a space or `#` gets a backslash, and the
/// backslashes right before it are doubled (`a\ b` is `a`, space, `b`: 2N+1 backslashes and a
/// space are N backslashes and a space); any other backslash is literal; `$` is `$$`.
pub fn depfile(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 4);
    let mut backslashes = 0;
    for c in s.chars() {
        match c {
            ' ' | '#' => {
                out.extend(std::iter::repeat_n('\\', backslashes + 1));
                out.push(c);
            }
            '$' => out.push_str("$$"),
            c => out.push(c),
        }
        backslashes = if c == '\\' { backslashes + 1 } else { 0 };
    }
    out
}

/// Reverses the quoting Ninja applies to each path of `$in_newline` in a response file
/// (the same single-quote form as [`shell`]).
pub fn unshell(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_quotes = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' => in_quotes = !in_quotes,
            '\\' if !in_quotes => {
                if let Some(n) = chars.next() {
                    out.push(n)
                }
            }
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const NASTY: &[&str] = &[
        "plain.bin",
        "with space.bin",
        "dollar$sign.bin",
        "co:lon.bin",
        "hash#tag.bin",
        "quote'single.bin",
        "quote\"double.bin",
        "-leading-dash.bin",
        "ünïcødé ✓.bin",
        "back\\slash.bin",
        "",
    ];

    #[test]
    fn ninja_escapes_exactly_dollar_space_colon() {
        assert_eq!(ninja("a b$c:d#e'f").unwrap(), "a$ b$$c$:d#e'f");
        assert_eq!(ninja("line\nbreak"), Err('\n'));
        assert_eq!(ninja("tab\there"), Err('\t'));
    }

    #[test]
    fn values_escape_only_dollar_and_a_leading_space() {
        assert_eq!(value("TILES a:b (3 inputs) $x").unwrap(), "TILES a:b (3 inputs) $$x");
        assert_eq!(value(" lead").unwrap(), "$ lead");
        assert_eq!(value("a\nb"), Err('\n'));
    }

    #[test]
    fn shell_quoting_round_trips_through_sh() {
        for name in NASTY {
            let out = std::process::Command::new("/bin/sh")
                .arg("-c")
                .arg(format!("printf %s {}", shell(name)))
                .output()
                .unwrap();
            assert_eq!(String::from_utf8(out.stdout).unwrap(), *name, "{name:?}");
        }
    }

    #[test]
    fn depfile_escapes_space_hash_and_dollar_and_the_backslashes_before_them() {
        assert_eq!(depfile("/a b/c#d$e\\f:g"), "/a\\ b/c\\#d$$e\\f:g");
        // Backslashes before a space are doubled, then the space escaped: 2N+1 and a space.
        assert_eq!(depfile("x\\ y"), "x\\\\\\ y");
        assert_eq!(depfile("x\\#"), "x\\\\\\#");
    }

    #[test]
    fn unshell_reverses_shell() {
        for name in NASTY {
            assert_eq!(unshell(&shell(name)), *name);
        }
        assert_eq!(shell("plain/path.bin"), "plain/path.bin");
    }
}
