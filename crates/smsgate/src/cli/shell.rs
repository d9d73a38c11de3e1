//! `completions` and `man`: shell completions (`clap_complete`) and the man page
//! (`clap_mangen`) generated from the clap definitions in [`super::Cli`], so a new command or
//! flag appears in both without anyone editing them by hand.
//!
//! Install them, for example:
//! `smsgate completions bash > /etc/bash_completion.d/smsgate`,
//! `smsgate completions zsh > "${fpath[1]}/_smsgate"`,
//! `smsgate completions fish > ~/.config/fish/completions/smsgate.fish`,
//! `smsgate man > /usr/local/share/man/man1/smsgate.1` (or `smsgate man --dir DIR` for a page
//! per command too).

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory};

use super::Cli;

/// `smsgate completions`: the completion script of one shell on stdout.
#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `smsgate man`: the man page on stdout, or every page into a directory.
#[derive(Args, Debug)]
pub struct ManArgs {
    /// Write `smsgate.1` and one page per command (`smsgate-serve.1`, …) into this
    /// directory instead of printing the main page.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// The completion script for `shell`.
pub fn completions_script(shell: clap_complete::Shell) -> Vec<u8> {
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "smsgate", &mut out);
    out
}

/// The main man page (roff).
pub fn man_page() -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .context("rendering the man page")?;
    Ok(out)
}

/// Runs `completions`.
pub fn completions(a: CompletionsArgs) -> anyhow::Result<()> {
    write_stdout(&completions_script(a.shell))
}

/// Runs `man`.
pub fn man(a: ManArgs) -> anyhow::Result<()> {
    match a.dir {
        None => write_stdout(&man_page()?),
        Some(dir) => {
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            clap_mangen::generate_to(Cli::command(), &dir)
                .with_context(|| format!("writing the man pages into {}", dir.display()))?;
            println!("man pages written to {}", dir.display());
            Ok(())
        }
    }
}

fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("writing to stdout")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bash_completion_knows_every_command() {
        let script = String::from_utf8(completions_script(clap_complete::Shell::Bash)).unwrap();
        for command in ["tail", "top", "serve", "init", "completions"] {
            assert!(
                script.contains(command),
                "no {command} in the bash completion"
            );
        }
        // Flags of subcommands too.
        assert!(script.contains("--events"));
    }

    #[test]
    fn zsh_and_fish_completions_are_generated() {
        for shell in [clap_complete::Shell::Zsh, clap_complete::Shell::Fish] {
            let script = String::from_utf8(completions_script(shell)).unwrap();
            assert!(script.contains("tail"), "{shell}");
        }
    }

    #[test]
    fn the_man_page_lists_the_commands() {
        let page = String::from_utf8(man_page().unwrap()).unwrap();
        assert!(
            page.starts_with(".ie") || page.contains(".TH smsgate"),
            "{page}"
        );
        for command in ["serve", "tail", "top"] {
            assert!(page.contains(command), "no {command} in the man page");
        }
    }
}
