//! Path rules: `PathUtils.validatePath` and the parent/child split the server does.

/// `PathUtils.validatePath`: `Err` with ZooKeeper's reason when the path is not absolute and
/// canonical.
///
/// Java checks UTF-16 code units; a Rust `char` above the BMP is a surrogate pair in Java,
/// which falls in the forbidden `\u{d800}..=\u{f8ff}` range, so it is refused here too.
pub fn validate_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("Path length must be > 0".into());
    }
    if !path.starts_with('/') {
        return Err("Path must start with / character".into());
    }
    if path.len() == 1 {
        return Ok(());
    }
    if path.ends_with('/') {
        return Err("Path must not end with / character".into());
    }
    for (index, component) in path.split('/').enumerate().skip(1) {
        if component.is_empty() {
            return Err(format!("empty node name specified in component {index}"));
        }
        if component == "." || component == ".." {
            return Err(format!("relative paths not allowed in component {index}"));
        }
        if let Some(c) = component.chars().find(|&c| is_forbidden(c)) {
            return Err(format!("invalid character {:?} in component {index}", c));
        }
    }
    Ok(())
}

/// The characters `PathUtils` refuses: NUL, controls, the surrogate and private-use range,
/// `\u{fff0}..=\u{ffff}`, and (as Java surrogate pairs) everything above the BMP.
fn is_forbidden(c: char) -> bool {
    // Rust chars are never surrogates, so the surrogate range starts at the private-use area.
    matches!(c, '\u{0}'..='\u{1f}' | '\u{7f}'..='\u{9f}' | '\u{e000}'..='\u{f8ff}' | '\u{fff0}'..='\u{ffff}')
        || (c as u32) > 0xffff
}

/// The parent of `path` as the server computes it (`path.substring(0, lastIndexOf('/'))`),
/// with ZooKeeper's `""` for a top-level node spelled `"/"` (ZooKeeper maps both to the root).
/// `None` when the path has no `/` or holds a NUL (BADARGUMENTS in `validatePathForCreate`).
pub fn parent_of(path: &str) -> Option<&str> {
    if path.contains('\0') {
        return None;
    }
    let last_slash = path.rfind('/')?;
    Some(if last_slash == 0 { "/" } else { &path[..last_slash] })
}

/// The last component of `path` (everything after the last `/`).
pub fn child_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The full path of `child` under `parent`.
pub fn join(parent: &str, child: &str) -> String {
    if parent == "/" {
        format!("/{child}")
    } else {
        format!("{parent}/{child}")
    }
}

/// `DataTree.isSpecialPath`: nodes nobody may delete.
pub fn is_special(path: &str) -> bool {
    matches!(path, "/" | "/zookeeper" | "/zookeeper/quota" | "/zookeeper/config")
}
