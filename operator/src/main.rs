//! The `gluster-operator` command: the operator itself and the tools a user runs before it.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Builds and runs GlusterFS storage clusters on OpenStack.
#[derive(Parser)]
#[command(name = "gluster-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Print the GlusterCluster CustomResourceDefinition as YAML.
    Crd,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Crd => match gluster_operator::crd::crd_yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::FAILURE
            }
        },
    }
}
