//! The `callpop` command: the daemon and its admin tools.

use anyhow::{Context, Result};

/// mimalloc: the daemon and the importer allocate on one thread and free on
/// another, which glibc's arena locks serialise (import 38k -> 54k rows/s).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use callpop::config::{self, Config, LogFormat, Override};
use callpop::customers::{self, ExportFormat};
use callpop::phone::{MatchPolicy, Normalizer};
use callpop::store::{Store, StoreHandle};
use callpop::{demo, lines, logging, web};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

const ENV_HELP: &str = "\
Settings come from the config file, then CALLPOP_* environment variables, then flags (flags win).
Every config key can be set from the environment: nested keys join with a double underscore,
e.g. CALLPOP_PHONE__SUFFIX_DIGITS=6 sets [phone] suffix_digits, CALLPOP_DB sets db.
Any key can also be set with --set KEY=VALUE, e.g. --set phone.region=HK.
See examples/callpop.toml for every setting.";

/// callpop: caller-ID screen-pop, call recording and SMS for call centers.
#[derive(Parser, Debug)]
#[command(name = "callpop", version, about, long_about = None, after_help = ENV_HELP)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug)]
struct GlobalArgs {
    /// TOML config file.
    #[arg(long, global = true, env = "CALLPOP_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,
    /// SQLite database (default: <data-dir>/callpop.db).
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,
    /// Directory for the database and other state.
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Log output format.
    #[arg(long, global = true, value_enum)]
    log_format: Option<LogFormat>,
    /// Log filter in RUST_LOG syntax, e.g. "info,callpop::devices=debug".
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,
    /// Set any config key, e.g. --set phone.suffix_digits=7 (repeatable).
    #[arg(long = "set", global = true, value_name = "KEY=VALUE", value_parser = Override::parse_set)]
    set: Vec<Override>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the daemon: devices, call engine, web desktop.
    Serve(ServeArgs),
    /// Run the daemon on a demo data directory with sample customers.
    Demo(DemoArgs),
    /// Import, export and look up customers.
    #[command(subcommand)]
    Customers(CustomersCommand),
    /// Check or print the effective configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// List, show and check firmware profiles (one per device model).
    #[command(subcommand)]
    Profiles(ProfilesCommand),
    /// Serial ports and the configured devices.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Simulated devices on pseudo-terminals, for trying callpop without hardware.
    #[command(subcommand)]
    Sim(SimCommand),
}

#[derive(Subcommand, Debug)]
enum ProfilesCommand {
    /// Every profile: shipped ones and those in profile_dir.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One profile, as TOML.
    Show { name: String },
    /// Validate a profile file; errors name the line.
    Check { file: PathBuf },
}

#[derive(Subcommand, Debug)]
enum DevicesCommand {
    /// Serial ports with their USB ids, serial number, maker and the profiles that fit.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Run the configured devices and print line and call events as they happen.
    Watch {
        /// One JSON object a line.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum SimCommand {
    /// A simulated caller-ID box or voice modem on a pseudo-terminal.
    Box {
        /// The profile whose protocol it speaks.
        #[arg(long)]
        profile: String,
        /// Path of the link to the terminal, for a [[device]] path.
        #[arg(long, default_value = "callpop-sim-box")]
        link: PathBuf,
        /// Play this script (see src/sim/script.rs), then stay plugged in.
        #[arg(long, conflicts_with = "random")]
        script: Option<PathBuf>,
        /// Place random calls, one every INTERVAL seconds on average.
        #[arg(long, value_name = "INTERVAL")]
        random: Option<f64>,
    },
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// Address for HTTP and websocket (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
}

#[derive(Args, Debug)]
struct DemoArgs {
    /// Address for HTTP and websocket (default 127.0.0.1:8080).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Delete the demo data directory first and start afresh.
    #[arg(long)]
    reset: bool,
}

#[derive(Subcommand, Debug)]
enum CustomersCommand {
    /// Import customers from CSV (UTF-8, GBK, Big5...) or XLSX.
    Import {
        /// The file; headers in Chinese or English (姓名/name, 电话/手机/phone, 公司/company...).
        file: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export every customer in the layout `import` reads back.
    Export {
        #[arg(long, value_enum, default_value = "csv")]
        format: ExportFormat,
        /// Output file.
        #[arg(short = 'o', long = "output", value_name = "FILE")]
        output: PathBuf,
    },
    /// Find the customers a number belongs to, as a screen-pop would.
    Lookup {
        number: String,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum ConfigCommand {
    /// Validate the configuration; exits non-zero and names the problem if bad.
    Check,
    /// Print the effective configuration as TOML.
    Show,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let config = match load_config(&cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("callpop: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(config.log_format, &config.log);
    match run(cli.command, config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("callpop: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn load_config(cli: &Cli) -> Result<Config, config::ConfigError> {
    let g = &cli.global;
    let mut overrides = g.set.clone();
    let mut flag = |name: &str, key: &str, value: Option<String>| {
        if let Some(v) = value {
            overrides.push(Override::flag(name, key, toml_string(&v)));
        }
    };
    flag("--db", "db", g.db.as_ref().map(|p| p.display().to_string()));
    flag(
        "--data-dir",
        "data_dir",
        g.data_dir.as_ref().map(|p| p.display().to_string()),
    );
    flag(
        "--log-format",
        "log_format",
        g.log_format.map(|f| format!("{f:?}").to_lowercase()),
    );
    flag("--log", "log", g.log.clone());
    let listen = match &cli.command {
        Command::Serve(a) => a.listen,
        Command::Demo(a) => a.listen,
        _ => None,
    };
    flag("--listen", "server.listen", listen.map(|a| a.to_string()));
    config::load_from_process(g.config.as_deref(), &overrides)
}

/// Quotes a flag's value so it is always read as a TOML string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

fn run(command: Command, config: Config) -> Result<()> {
    match command {
        Command::Serve(_) => run_daemon(config, None),
        Command::Demo(args) => run_demo(config, args.reset),
        Command::Customers(c) => run_customers(c, &config),
        Command::Config(ConfigCommand::Check) => {
            println!("configuration ok");
            Ok(())
        }
        Command::Config(ConfigCommand::Show) => {
            print!("{}", toml::to_string_pretty(&config)?);
            Ok(())
        }
        Command::Profiles(c) => run_profiles(c, &config),
        Command::Devices(DevicesCommand::List { json }) => devices_list(&config, json),
        Command::Devices(DevicesCommand::Watch { json }) => devices_watch(config, json),
        Command::Sim(SimCommand::Box {
            profile,
            link,
            script,
            random,
        }) => sim_box(&config, &profile, &link, script.as_deref(), random),
    }
}

fn run_profiles(command: ProfilesCommand, config: &Config) -> Result<()> {
    match command {
        ProfilesCommand::List { json } => {
            let all = lines::profiles(config)?;
            if json {
                let list: Vec<_> = all
                    .values()
                    .map(|p| {
                        serde_json::json!({
                            "name": p.profile.name, "kind": p.profile.kind,
                            "description": p.profile.description, "origin": p.origin,
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for p in all.values() {
                    println!(
                        "{:24} {:12} {}",
                        p.profile.name,
                        format!("{:?}", p.profile.kind),
                        p.profile.description
                    );
                }
            }
        }
        ProfilesCommand::Show { name } => {
            let all = lines::profiles(config)?;
            let p = all.get(&name).ok_or_else(|| {
                anyhow::anyhow!("no profile {name:?}; `callpop profiles list` shows them")
            })?;
            println!("# {}", p.origin);
            print!("{}", toml::to_string_pretty(&p.profile)?);
        }
        ProfilesCommand::Check { file } => {
            let p = callpop::devices::profile::load_file(&file)?;
            println!(
                "{}: profile {:?} ({:?}) is valid: {} init steps, {} grammar rules",
                file.display(),
                p.profile.name,
                p.profile.kind,
                p.profile.init.len(),
                p.grammar.len()
            );
        }
    }
    Ok(())
}

fn devices_list(config: &Config, json: bool) -> Result<()> {
    use callpop::devices::profile::{candidates, UsbInfo};
    let profiles = lines::profiles(config)?;
    let by_id: std::collections::HashMap<PathBuf, PathBuf> = std::fs::read_dir("/dev/serial/by-id")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .filter_map(|e| Some((std::fs::canonicalize(e.path()).ok()?, e.path())))
                .collect()
        })
        .unwrap_or_default();
    let ports = tokio_serial::available_ports().unwrap_or_default();
    let mut rows = Vec::new();
    for port in ports {
        let usb = match &port.port_type {
            tokio_serial::SerialPortType::UsbPort(u) => UsbInfo {
                id: Some(callpop::devices::profile::UsbId {
                    vendor: u.vid,
                    product: u.pid,
                }),
                serial_number: u.serial_number.clone(),
                manufacturer: u.manufacturer.clone(),
                product: u.product.clone(),
            },
            _ => UsbInfo::default(),
        };
        let stable = by_id
            .get(&PathBuf::from(&port.port_name))
            .map(|p| p.display().to_string());
        rows.push(serde_json::json!({
            "port": port.port_name,
            "stable_path": stable,
            "usb": usb,
            "profiles": candidates(&profiles, &usb),
        }));
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else if rows.is_empty() {
        println!(
            "no serial ports found (a USB box or modem shows up as /dev/ttyUSBn or /dev/ttyACMn)"
        );
    } else {
        for r in &rows {
            println!(
                "{}  {}  usb {}  serial {}  {} {}  profiles: {}",
                r["port"].as_str().unwrap_or(""),
                r["stable_path"].as_str().unwrap_or("(no stable path)"),
                r["usb"]["id"].as_str().unwrap_or("-"),
                r["usb"]["serial_number"].as_str().unwrap_or("-"),
                r["usb"]["manufacturer"].as_str().unwrap_or(""),
                r["usb"]["product"].as_str().unwrap_or(""),
                r["profiles"]
                    .as_array()
                    .map(|a| a
                        .iter()
                        .filter_map(|v| v.as_str())
                        .collect::<Vec<_>>()
                        .join(", "))
                    .unwrap_or_default(),
            );
        }
    }
    Ok(())
}

fn devices_watch(config: Config, json: bool) -> Result<()> {
    let profiles = lines::profiles(&config)?;
    let devices = lines::configured_devices(&config, &profiles)?;
    if devices.is_empty() {
        anyhow::bail!(
            "no [[device]] configured; add one to the config file (see examples/callpop.toml)"
        );
    }
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let store = StoreHandle::spawn(open_store(&config)?);
        let (tap, mut line_events) = tokio::sync::mpsc::channel(1024);
        let running = lines::start(&config, devices, store, Some(tap));
        let mut calls = running.events.subscribe();
        let print = |v: serde_json::Value, text: String| {
            if json {
                println!("{v}");
            } else {
                println!("{text}");
            }
        };
        loop {
            tokio::select! {
                Some(e) = line_events.recv() => {
                    let kind = match &e.kind {
                        callpop::event::LineEventKind::Signal(s) => serde_json::to_value(s)?,
                        callpop::event::LineEventKind::Device(d) => serde_json::to_value(d)?,
                    };
                    let time = chrono::DateTime::from_timestamp_millis(e.at_ms).unwrap_or_default().with_timezone(&chrono::Local).format("%H:%M:%S%.3f");
                    print(
                        serde_json::json!({"event": "line", "at_ms": e.at_ms, "line": e.line, "device": e.device, "data": kind}),
                        format!("{time} line {:10} {}", e.line, kind),
                    );
                }
                Ok(c) = calls.recv() => {
                    let v = serde_json::to_value(&c)?;
                    let time = chrono::Local::now().format("%H:%M:%S%.3f");
                    print(serde_json::json!({"event": "call", "data": v}), format!("{time} call {v}"));
                }
                _ = shutdown_signal() => break,
            }
        }
        Ok(())
    })
}

fn sim_box(
    config: &Config,
    profile: &str,
    link: &std::path::Path,
    script: Option<&std::path::Path>,
    random: Option<f64>,
) -> Result<()> {
    use callpop::sim::script::{parse, Action};
    let profiles = lines::profiles(config)?;
    let p = profiles.get(profile).ok_or_else(|| {
        anyhow::anyhow!("no profile {profile:?}; `callpop profiles list` shows them")
    })?;
    let actions = match script {
        Some(f) => {
            let text = std::fs::read_to_string(f)
                .with_context(|| format!("cannot read {}", f.display()))?;
            parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", f.display()))?
        }
        None => Vec::new(),
    };
    let runtime = tokio::runtime::Runtime::new()?;
    let link = link.to_path_buf();
    let profile_name = p.profile.name.clone();
    let profile = std::sync::Arc::new(p.clone());
    runtime.block_on(async move {
        let mut sim = callpop::sim::BoxSim::start(profile, &link)?;
        println!(
            "simulated {profile_name} at {} (Ctrl-C stops it)",
            sim.link().display()
        );
        let play = async {
            sim.play(&actions).await?;
            if let Some(interval) = random {
                let mut rng = callpop::demo::SplitMix::new(std::process::id() as u64);
                let numbers: Vec<String> = callpop::demo::SampleCustomers::new(7)
                    .take(50)
                    .map(|c| c.phones[0].replace(' ', ""))
                    .collect();
                loop {
                    let wait = std::time::Duration::from_secs_f64(
                        interval * (0.5 + rng.below(100) as f64 / 100.0),
                    );
                    let number = numbers[rng.below(numbers.len())].clone();
                    let answered = rng.below(3) > 0;
                    let mut call = vec![
                        Action::Wait(wait),
                        Action::Ring { port: 1 },
                        Action::Cid {
                            port: 1,
                            number,
                            name: None,
                        },
                        Action::Ring { port: 1 },
                    ];
                    if answered {
                        call.extend([
                            Action::Answer { port: 1 },
                            Action::Wait(std::time::Duration::from_secs(5 + rng.below(20) as u64)),
                            Action::Hangup { port: 1 },
                        ]);
                    } else {
                        call.extend([
                            Action::Wait(std::time::Duration::from_secs(4)),
                            Action::Ring { port: 1 },
                        ]);
                    }
                    sim.play(&call).await?;
                }
            }
            std::future::pending::<std::io::Result<()>>().await
        };
        tokio::select! {
            r = play => r?,
            _ = shutdown_signal() => {}
        }
        Ok(())
    })
}

fn normalizer(config: &Config) -> Normalizer {
    Normalizer::new(config.normalizer_settings())
}

fn match_policy(config: &Config) -> MatchPolicy {
    MatchPolicy {
        suffix_digits: config.phone.suffix_digits,
        suffix_max_matches: config.phone.suffix_max_matches,
    }
}

fn open_store(config: &Config) -> Result<Store> {
    let store = Store::open(&config.db_path())?;
    store.set_cache_mb(config.store.cache_mb)?;
    Ok(store)
}

fn run_customers(command: CustomersCommand, config: &Config) -> Result<()> {
    let store = open_store(config)?;
    match command {
        CustomersCommand::Import { file, json } => {
            let bar = indicatif::ProgressBar::with_draw_target(
                None,
                indicatif::ProgressDrawTarget::stderr(),
            );
            bar.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} importing [{bar:40}] {percent}% {elapsed_precise} eta {eta}",
                )
                .expect("valid template")
                .progress_chars("=> "),
            );
            let report = customers::import_file(&store, &normalizer(config), &file, Some(&bar))?;
            bar.finish_and_clear();
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                for line in report.issue_lines() {
                    println!("{line}");
                }
                println!("{report}");
            }
        }
        CustomersCommand::Export { format, output } => {
            let count = customers::export(&store, format, &output)?;
            println!("exported {count} customers to {}", output.display());
        }
        CustomersCommand::Lookup { number, json } => {
            print_lookup(&store, config, &number, json)?;
        }
    }
    Ok(())
}

fn print_lookup(store: &Store, config: &Config, query: &str, json: bool) -> Result<()> {
    let normalized = normalizer(config).normalize_lenient(query);
    let result = match &normalized {
        Some(n) => store.lookup(n, &match_policy(config))?,
        None => callpop::store::LookupResult {
            rule: callpop::phone::MatchRule::None,
            outcome: callpop::phone::MatchOutcome::None,
            matches: Vec::new(),
        },
    };
    if json {
        let out = serde_json::json!({
            "query": query,
            "normalized": normalized.as_ref().map(|n| n.canonical()),
            "rule": result.rule,
            "outcome": result.outcome,
            "matches": result.matches,
        });
        println!("{out}");
        return Ok(());
    }
    match &normalized {
        Some(n) => println!(
            "{query} → {} ({}{})",
            n.canonical(),
            n.kind.as_str(),
            n.extension
                .as_deref()
                .map(|e| format!(", extension {e}"))
                .unwrap_or_default()
        ),
        None => println!("{query} → no digits"),
    }
    println!(
        "rule: {}, {} match{}",
        result.rule.as_str(),
        result.matches.len(),
        if result.matches.len() == 1 { "" } else { "es" }
    );
    for m in &result.matches {
        println!("  #{:<8} {}  {}  {}", m.id, m.name, m.company, m.phone);
    }
    Ok(())
}

/// Sample customers the demo seeds into an empty store.
const DEMO_CUSTOMERS: usize = 500;

fn run_demo(mut config: Config, reset: bool) -> Result<()> {
    let dir = config.data_dir().join("demo");
    if reset && dir.exists() {
        std::fs::remove_dir_all(&dir)
            .with_context(|| format!("cannot delete {}", dir.display()))?;
    }
    if config.db.is_none() {
        config.db = Some(dir.join("callpop.db"));
    }
    let store = open_store(&config)?;
    let added = demo::seed_customers(&store, &normalizer(&config), DEMO_CUSTOMERS)?;
    let total = store.customer_count()?;
    drop(store);
    println!(
        "callpop demo: database {} with {total} customers ({added} seeded now)",
        config.db_path().display()
    );
    run_daemon(config, Some("demo"))
}

fn run_daemon(config: Config, mode: Option<&str>) -> Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async move {
        let store = StoreHandle::spawn(open_store(&config)?);
        let profiles = lines::profiles(&config)?;
        let devices = lines::configured_devices(&config, &profiles)?;
        let _lines = lines::start(&config, devices, store.clone(), None);
        // Warm in the background of the store thread: requests queue behind
        // it for at most a few seconds on a store of millions.
        let warming = store.clone();
        tokio::spawn(async move {
            if let Err(e) = warming.call(|s| s.warm_cache()).await {
                tracing::warn!(error = %e, "could not warm the store cache");
            }
        });
        let listener = web::bind(config.server.listen).await?;
        let addr = listener.local_addr()?;
        println!(
            "callpop{} listening on http://{addr}/ (health: http://{addr}/healthz); Ctrl-C stops it",
            mode.map(|m| format!(" {m}")).unwrap_or_default()
        );
        tracing::info!(%addr, db = %config.db_path().display(), "callpop started");
        web::serve(listener, web::AppState { store }, shutdown_signal()).await?;
        tracing::info!("callpop stopped");
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
