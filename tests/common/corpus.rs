//! The shared labelled pool, `../shared/corpus/dev.jsonl` and `train.jsonl`, read at test time
//! (never copied into the project).

/// Each file of the pool as (path, text); `None`, after saying so, when the corpus is absent.
pub fn pool_files() -> Option<Vec<(String, String)>> {
    let mut files = Vec::new();
    for name in ["dev.jsonl", "train.jsonl"] {
        let path = format!("{}/../shared/corpus/{name}", env!("CARGO_MANIFEST_DIR"));
        let Ok(text) = std::fs::read_to_string(&path) else {
            eprintln!("skipped: {path} not found (the labelled corpus lives beside the project)");
            return None;
        };
        files.push((path, text));
    }
    Some(files)
}
