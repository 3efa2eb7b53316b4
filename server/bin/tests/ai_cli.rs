//! The AI options as an operator meets them: in `--help`, with their environment
//! variables, and with the API key's value never shown.

use std::process::Command;

const BINARY: &str = env!("CARGO_BIN_EXE_gold-box-server");

#[test]
fn help_lists_every_ai_option_with_its_environment_variable() {
    let output = Command::new(BINARY)
        .arg("--help")
        .env("GOLD_BOX_AI_API_KEY", "sk-must-not-appear")
        .output()
        .expect("run --help");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for (option, variable) in [
        ("--ai-provider", "GOLD_BOX_AI_PROVIDER"),
        ("--ai-base-url", "GOLD_BOX_AI_BASE_URL"),
        ("--ai-model", "GOLD_BOX_AI_MODEL"),
        ("--ai-api-key", "GOLD_BOX_AI_API_KEY"),
        ("--ai-request-timeout-ms", "GOLD_BOX_AI_REQUEST_TIMEOUT_MS"),
        ("--ai-max-retries", "GOLD_BOX_AI_MAX_RETRIES"),
        ("--ai-retry-backoff-ms", "GOLD_BOX_AI_RETRY_BACKOFF_MS"),
        ("--ai-max-iterations", "GOLD_BOX_AI_MAX_ITERATIONS"),
        ("--ai-max-turn-ms", "GOLD_BOX_AI_MAX_TURN_MS"),
        (
            "--ai-context-budget-chars",
            "GOLD_BOX_AI_CONTEXT_BUDGET_CHARS",
        ),
        ("--ai-seed", "GOLD_BOX_AI_SEED"),
    ] {
        assert!(help.contains(option), "--help lacks {option}");
        assert!(help.contains(variable), "--help lacks {variable}");
    }
    assert!(help.contains("[default: offline]"), "{help}");
    assert!(
        !help.contains("sk-must-not-appear"),
        "the API key was printed"
    );
}

#[test]
fn an_unknown_provider_is_refused_with_the_choices() {
    let output = Command::new(BINARY)
        .args(["--ai-provider", "claude-local"])
        .output()
        .expect("run");
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--ai-provider"), "{stderr}");
    assert!(
        stderr.contains("offline") && stderr.contains("openai"),
        "{stderr}"
    );
}
