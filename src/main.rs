//! The `ferrovs` command.

use std::process::ExitCode;

use clap::Parser;
use ferrovs::cli::{Cli, Command};

fn main() -> ExitCode {
    let cli = Cli::parse();
    ferrovs::vlog::init();
    // Each element is one sentence, printed on a line of its own.
    let result: Result<(), Vec<String>> = match cli.command {
        Command::Run(args) => match ferrovs::config::SwitchConfig::from_run_args(&args) {
            Ok(cfg) => ferrovs::vlog::configure(cfg.log_level.as_deref(), cfg.log_file.as_deref())
                .map_err(|e| vec![e.to_string()])
                .and_then(|()| ferrovs::switch::run(cfg).map_err(|e| vec![e.to_string()])),
            Err(errors) => Err(errors.sentences()),
        },
        Command::CheckConfig { file } => match ferrovs::config::check_file(&file) {
            Ok(summary) => {
                println!("{summary}");
                Ok(())
            }
            Err(errors) => Err(errors.sentences()),
        },
        Command::Appctl {
            target,
            timeout,
            command,
            args,
        } => {
            let timeout = std::time::Duration::from_secs(timeout);
            match ferrovs::appctl::call(&target, &command, &args, timeout) {
                Ok(Ok(text)) => {
                    print!("{text}");
                    Ok(())
                }
                // The switch's own error text, as ovs-appctl prints it, and its exit code.
                Ok(Err(text)) => {
                    eprint!("{text}");
                    return ExitCode::from(2);
                }
                Err(e) => Err(vec![e.to_string()]),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(sentences) => {
            for s in sentences {
                eprintln!("ferrovs: error: {s}");
            }
            ExitCode::FAILURE
        }
    }
}
