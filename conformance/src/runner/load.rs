//! Loading the vectors: every file under a directory, read strictly.

use super::*;

/// A vector file and where it came from.
#[derive(Clone, Debug)]
pub struct LoadedFile {
    /// Path relative to the vectors directory, with `/` separators.
    pub path: String,
    /// The area: the first directory under the vectors directory.
    pub area: String,
    /// The parsed file.
    pub file: VectorFile,
}

/// Loads every `*.json` file under `dir` (recursively, in path order).
/// Returns the files that parsed and one message per file that did not.
pub fn load_vectors(dir: &Path) -> (Vec<LoadedFile>, Vec<String>) {
    let mut paths = Vec::new();
    let mut errors = Vec::new();
    collect_json(dir, &mut BTreeSet::new(), &mut paths, &mut errors);
    paths.sort();
    let mut files = Vec::new();
    for path in paths {
        let rel = relative(dir, &path);
        match load_file(&path) {
            Ok(file) => {
                let area = match rel.split_once('/') {
                    Some((area, _)) => area.to_owned(),
                    None => "(top level)".to_owned(),
                };
                files.push(LoadedFile {
                    path: rel,
                    area,
                    file,
                });
            }
            Err(why) => errors.push(format!("{rel}: {why}")),
        }
    }
    (files, errors)
}

/// Collects `*.json` under `dir`. Each directory is searched once, by its
/// canonical path, so a symlink loop cannot make the search endless.
pub(super) fn collect_json(
    dir: &Path,
    visited: &mut BTreeSet<PathBuf>,
    out: &mut Vec<PathBuf>,
    errors: &mut Vec<String>,
) {
    match std::fs::canonicalize(dir) {
        Ok(canonical) => {
            if !visited.insert(canonical) {
                return;
            }
        }
        Err(e) => {
            errors.push(format!("{}: {e}", dir.display()));
            return;
        }
    }
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            errors.push(format!("{}: cannot read directory: {e}", dir.display()));
            return;
        }
    };
    for entry in entries {
        match entry {
            Ok(entry) => {
                let path = entry.path();
                if path.is_dir() {
                    collect_json(&path, visited, out, errors);
                } else if path.extension().is_some_and(|e| e == "json") {
                    out.push(path);
                }
            }
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
        }
    }
}

pub(super) fn relative(dir: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/")
}

/// Reads and checks one vector file: it parses (unknown fields rejected),
/// has schema version [`SCHEMA_VERSION`], a correct `numberOfTests`, unique
/// tcIds, and every flag explained in `notes`.
pub fn load_file(path: &Path) -> Result<VectorFile, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))?;
    let file: VectorFile =
        serde_json::from_str(&text).map_err(|e| format!("not a valid vector file: {e}"))?;
    if file.schema_version != SCHEMA_VERSION {
        return Err(format!(
            "schema version {:?}, this runner reads {SCHEMA_VERSION:?}",
            file.schema_version
        ));
    }
    let count: usize = file.test_groups.iter().map(|g| g.tests.len()).sum();
    if count != file.number_of_tests {
        return Err(format!(
            "numberOfTests is {} but the file has {count} tests",
            file.number_of_tests
        ));
    }
    let mut ids = BTreeSet::new();
    for test in file.test_groups.iter().flat_map(|g| &g.tests) {
        if !ids.insert(test.tc_id) {
            return Err(format!("tcId {} appears twice", test.tc_id));
        }
        if test.steps.is_empty() {
            return Err(format!("tcId {} has no steps", test.tc_id));
        }
        if let Some(flag) = test.flags.iter().find(|f| !file.notes.contains_key(*f)) {
            return Err(format!(
                "tcId {}: flag {flag:?} is not explained in notes",
                test.tc_id
            ));
        }
    }
    Ok(file)
}
