//! Embeds the numbered migrations of `sql/` and the shipped firmware
//! profiles, so adding either is adding a file.
use std::{env, fs, path::Path};

fn main() {
    println!("cargo:rerun-if-changed=sql");
    let mut files: Vec<(u32, String)> = fs::read_dir("sql")
        .expect("sql/ directory")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let stem = name.strip_suffix(".sql")?;
            let version: u32 = stem.split('_').next()?.parse().ok()?;
            Some((version, name))
        })
        .collect();
    files.sort();
    for pair in files.windows(2) {
        assert!(
            pair[0].0 != pair[1].0,
            "two migrations numbered {}",
            pair[0].0
        );
    }
    let mut out = String::from("/// Migrations from `sql/`, in order: (version, file name, SQL).\npub static MIGRATIONS: &[(u32, &str, &str)] = &[\n");
    for (version, name) in &files {
        let path = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap())
            .join("sql")
            .join(name);
        out.push_str(&format!(
            "    ({version}, {name:?}, include_str!({:?})),\n",
            path.display().to_string()
        ));
    }
    out.push_str("];\n");
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("migrations.rs"),
        out,
    )
    .unwrap();
    embed_profiles();
}

fn embed_profiles() {
    println!("cargo:rerun-if-changed=firmware-profiles");
    let mut names: Vec<String> = fs::read_dir("firmware-profiles")
        .expect("firmware-profiles/ directory")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    let dir = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("firmware-profiles");
    let mut out = String::from(
        "/// Profiles shipped in `firmware-profiles/`: (file name, TOML).\n\
         pub static EMBEDDED_PROFILES: &[(&str, &str)] = &[\n",
    );
    for name in &names {
        out.push_str(&format!(
            "    ({name:?}, include_str!({:?})),\n",
            dir.join(name).display().to_string()
        ));
    }
    out.push_str("];\n");
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("profiles.rs"),
        out,
    )
    .unwrap();
}
