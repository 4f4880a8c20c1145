use trialflow_pipeline::{PipelineError, Registry};

/// Lists routines, or prints one routine's documentation and parameters.
pub fn routines(registry: &Registry, name: Option<&str>) -> Result<(), PipelineError> {
    let Some(name) = name else {
        let width = registry
            .entries()
            .iter()
            .map(|e| e.doc.name.len())
            .max()
            .unwrap_or(0);
        for entry in registry.entries() {
            crate::out!("{:width$}  {}", entry.doc.name, entry.doc.summary);
        }
        crate::out!("\n`trialflow routines NAME` shows a routine's parameters.");
        return Ok(());
    };
    let entry = registry.get(name).ok_or_else(|| {
        PipelineError::user(format!(
            "unknown routine '{name}'{}",
            registry.suggest(name)
        ))
    })?;
    let doc = &entry.doc;
    crate::out!("{}: {}", doc.name, doc.summary);
    crate::out!("matches:  {}", doc.matches);
    crate::out!(
        "input:    {}\noutput:   {}",
        doc.input.class_name(),
        doc.output.class_name()
    );
    if doc.params.is_empty() {
        crate::out!("parameters: none");
    } else {
        crate::out!("parameters:");
        for p in doc.params {
            crate::out!("  {} ({}, default {})", p.name, p.kind, p.default);
            crate::out!("      {}", p.doc);
        }
    }
    crate::out!(
        "common step keys: name (tag of the saved object), save (bool), dtype (float32 | float64)"
    );
    crate::out!("example:\n{}", indent(doc.example));
    Ok(())
}

fn indent(text: &str) -> String {
    text.lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
