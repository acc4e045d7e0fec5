//! `callpop customers ...`: import, export and lookup.

use crate::{match_policy, normalizer, open_store, CustomersCommand};
use anyhow::Result;
use callpop::config::Config;
use callpop::customers;
use callpop::store::Store;

pub(crate) fn run_customers(command: CustomersCommand, config: &Config) -> Result<()> {
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
            let report = customers::import_file(
                &store,
                &normalizer(config),
                &file,
                customers::ImportRun {
                    progress: Some(&bar),
                    ..Default::default()
                },
            )?;
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

pub(crate) fn print_lookup(store: &Store, config: &Config, query: &str, json: bool) -> Result<()> {
    let normalized = normalizer(config).normalize_lenient(query);
    let result = match &normalized {
        Some(n) => store.customers().lookup(n, &match_policy(config))?,
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
