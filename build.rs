//! Facts about compiled-in files, worked out once at build time: the built-in model's
//! fingerprint, so a run that classifies nothing never reads the model's 2 MB of text.

fn main() {
    let path = "config/profiles/ai-openness.model.json";
    println!("cargo:rerun-if-changed={path}");
    let text = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"));
    // FNV-1a, the same as `stance::model::fingerprint_of` (a unit test holds them together).
    let hash = text.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3));
    println!("cargo:rustc-env=STANCEWATCH_BUILTIN_MODEL_FINGERPRINT={hash:016x}");
}
