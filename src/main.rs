//! The `ferrovs` command.

use std::process::ExitCode;

use clap::Parser;
use ferrovs::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    ferrovs::vlog::init();
    let result = match cli.command {
        Command::Run(args) => ferrovs::config::SwitchConfig::from_run_args(&args).and_then(|cfg| {
            ferrovs::vlog::configure(cfg.log_level.as_deref(), cfg.log_file.as_deref())
                .map_err(|e| e.to_string())?;
            ferrovs::switch::run(cfg).map_err(|e| e.to_string())
        }),
        Command::CheckConfig { file } => ferrovs::config::check_file(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentence) => {
            eprintln!("ferrovs: error: {sentence}");
            ExitCode::FAILURE
        }
    }
}
