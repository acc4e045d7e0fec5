//! Embeds the numbered migrations of `sql/`, the shipped firmware
//! profiles and CRM connectors, so adding any is adding a file.
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
    embed_toml_dir(
        "crm-connectors",
        "CRM connectors",
        "SHIPPED_CONNECTORS",
        "crm_connectors.rs",
    );
    embed_web();
}

fn embed_profiles() {
    embed_toml_dir(
        "firmware-profiles",
        "Profiles",
        "EMBEDDED_PROFILES",
        "profiles.rs",
    );
}

/// Embeds every `*.toml` of `dir` as `(file name, TOML)` in a static
/// `name`, written to `out` in OUT_DIR.
fn embed_toml_dir(dir: &str, what: &str, name: &str, out_file: &str) {
    println!("cargo:rerun-if-changed={dir}");
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|_| panic!("{dir}/ directory"))
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    names.sort();
    let path = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join(dir);
    let mut out = format!(
        "/// {what} shipped in `{dir}/`: (file name, TOML).\n\
         pub static {name}: &[(&str, &str)] = &[\n"
    );
    for file in &names {
        out.push_str(&format!(
            "    ({file:?}, include_str!({:?})),\n",
            path.join(file).display().to_string()
        ));
    }
    out.push_str("];\n");
    fs::write(Path::new(&env::var("OUT_DIR").unwrap()).join(out_file), out).unwrap();
}

/// Embeds the built web app (`web/dist`, made by `./run web`): every file
/// with its path relative to `web/dist`.
fn embed_web() {
    let root = Path::new(&env::var("CARGO_MANIFEST_DIR").unwrap()).join("web");
    let dist = root.join("dist");
    println!("cargo:rerun-if-changed=web/dist");
    if !dist.join("index.html").is_file() {
        panic!(
            "\n\nThe web app is not built: web/dist/index.html is missing.\n\
             Build it with `./run web` (it installs Node.js when missing, then runs\n\
             `npm ci && npm run build` in web/); `./run demo` and `./run test` do this too.\n\n"
        );
    }
    let mut files = Vec::new();
    collect_files(&dist, &dist, &mut files);
    files.sort();
    let gz_dir = Path::new(&env::var("OUT_DIR").unwrap()).join("web_gz");
    let mut out = String::from(
        "/// The built web app, from `web/dist`.\n\
         pub static WEB_ASSETS: &[BuiltFile] = &[\n",
    );
    for rel in &files {
        let source = dist.join(rel);
        let text = [".js", ".css", ".html", ".svg", ".json"]
            .iter()
            .any(|ext| rel.ends_with(ext));
        let gz = if text {
            let target = gz_dir.join(format!("{rel}.gz"));
            fs::create_dir_all(target.parent().unwrap()).unwrap();
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
            std::io::Write::write_all(&mut encoder, &fs::read(&source).unwrap()).unwrap();
            fs::write(&target, encoder.finish().unwrap()).unwrap();
            format!("Some(include_bytes!({:?}))", target.display().to_string())
        } else {
            "None".to_string()
        };
        out.push_str(&format!(
            "    BuiltFile {{ path: {rel:?}, bytes: include_bytes!({:?}), gz: {gz} }},\n",
            source.display().to_string()
        ));
    }
    out.push_str("];\n");
    fs::write(
        Path::new(&env::var("OUT_DIR").unwrap()).join("web_assets.rs"),
        out,
    )
    .unwrap();
}

fn collect_files(dir: &Path, base: &Path, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).expect("web/dist is readable") {
        let path = entry.expect("a web/dist entry").path();
        if path.is_dir() {
            collect_files(&path, base, out);
        } else {
            let rel = path.strip_prefix(base).unwrap();
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
}
