//! Embeds the numbered migrations of `sql/` so adding one needs no code change.
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
}
