use trialflow_routines::Registry;

use crate::failure::CliError;

/// Lists routines, or prints one routine's documentation and parameters.
pub fn routines(name: Option<&str>) -> Result<(), CliError> {
    let registry = Registry::builtin();
    let Some(name) = name else {
        let width = registry
            .entries()
            .iter()
            .map(|e| e.doc.name.len())
            .max()
            .unwrap_or(0);
        for entry in registry.entries() {
            println!("{:width$}  {}", entry.doc.name, entry.doc.summary);
        }
        println!("\n`trialflow routines NAME` shows a routine's parameters.");
        return Ok(());
    };
    let entry = registry.get(name).ok_or_else(|| {
        let known: Vec<_> = registry.entries().iter().map(|e| e.doc.name).collect();
        CliError::user(format!(
            "unknown routine '{name}'; known routines: {}",
            known.join(", ")
        ))
    })?;
    let doc = &entry.doc;
    println!("{}: {}", doc.name, doc.summary);
    println!("matches:  {}", doc.matches);
    println!(
        "input:    {}\noutput:   {}",
        doc.input.class_name(),
        doc.output.class_name()
    );
    if doc.params.is_empty() {
        println!("parameters: none");
    } else {
        println!("parameters:");
        for p in doc.params {
            println!("  {} ({}, default {})", p.name, p.kind, p.default);
            println!("      {}", p.doc);
        }
    }
    println!(
        "common step keys: name (tag of the saved object), save (bool), dtype (float32 | float64)"
    );
    println!("example:\n{}", indent(doc.example));
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
