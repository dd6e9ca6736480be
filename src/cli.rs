//! Command-line surface: what the user typed (clap types) → calls into the modules that do
//! the work. `main` prints the error chain once and maps it to a documented exit code.

use crate::decl::AssetType;
use crate::diag::Blocked;
use crate::{commands, gen, step};
use clap::{Parser, Subcommand};
use std::path::PathBuf;

/// Exit codes (documented in the README).
pub const EXIT_OK: i32 = 0;
/// Blocking diagnostics or a failed build.
pub const EXIT_FAILED: i32 = 1;
/// Usage errors (clap's own code).
pub const EXIT_USAGE: i32 = 2;

#[derive(Parser, Debug)]
#[command(
    name = "packer",
    version,
    about = "Packs a game's asset workspace into build/assets.pa through a hash-gated build.ninja"
)]
struct Cli {
    /// Run as if packer was started in DIR (the project directory, holding assets/).
    #[arg(short = 'C', global = true, value_name = "DIR")]
    project_dir: Option<PathBuf>,
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Create assets/.prometeu/index.json (the registry) in the project directory.
    Init,
    /// Create an asset.json in DIR if it has none, and register it (allocates the next asset_id).
    Add {
        dir: PathBuf,
        /// Asset type: blob, tile_bank, sound_bank or tilemap.
        #[arg(long = "type", value_parser = parse_type)]
        ty: AssetType,
        /// Asset name (default: the directory name).
        #[arg(long)]
        name: Option<String>,
        /// Input file, relative to DIR (repeatable; default: every file in DIR).
        #[arg(long = "source", value_name = "FILE")]
        sources: Vec<String>,
    },
    /// Register an existing asset.json that the registry does not list.
    Adopt { dir: PathBuf },
    /// Unregister an asset (by name, id or path), keeping its files. Its id is never reused.
    Forget { asset: String },
    /// Move an asset root to a new directory, keeping its id and uuid.
    Mv { asset: String, to: PathBuf },
    /// List registered assets.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Show one asset (by name, id or path).
    Show {
        asset: String,
        #[arg(long)]
        json: bool,
    },
    /// Hash the workspace, write the key files (the gates) and build.ninja.
    Gen {
        /// Build directory, relative to the project directory.
        #[arg(long, default_value = "build")]
        build_dir: String,
        /// Where to write build.ninja, relative to the project directory.
        #[arg(long, default_value = "build.ninja")]
        ninja_file: String,
    },
    /// Run one build step, as build.ninja does (or by hand).
    #[command(subcommand)]
    Step(StepCmd),
    /// Print the asset table of a built assets.pa.
    Inspect {
        #[arg(default_value = "build/assets.pa")]
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum StepCmd {
    /// BLOB/raw_v1: copy the one source file. Writes OUT.bin (payload), OUT.json (table
    /// metadata) and OUT.rec (the key it was built from). Without --key, computes the key from
    /// ROOT/asset.json. Exits at once when the outputs are intact and match the key.
    Blob(AssetStepArgs),
    /// Assemble assets.pa, asset_table.json, preload.json and asset_table_metadata.json in
    /// OUT_DIR from the artifacts in OBJ_DIR (listed in RSP when given). Without --key,
    /// computes the key from the workspace and the artifacts' records.
    Pack {
        /// Key file written by `packer gen`.
        #[arg(long)]
        key: Option<PathBuf>,
        /// Response file listing the key file and each artifact's .bin.
        #[arg(long)]
        rsp: Option<PathBuf>,
        #[arg(long, default_value = "build/obj")]
        obj_dir: PathBuf,
        #[arg(long, default_value = "build")]
        out_dir: PathBuf,
    },
}

#[derive(clap::Args, Debug)]
struct AssetStepArgs {
    /// Key file written by `packer gen`.
    #[arg(long)]
    key: Option<PathBuf>,
    /// The asset root directory.
    #[arg(long)]
    root: PathBuf,
    /// Output prefix (e.g. build/obj/3).
    #[arg(long)]
    out: PathBuf,
}

fn parse_type(s: &str) -> Result<AssetType, String> {
    AssetType::parse(s).ok_or_else(|| {
        let known: Vec<_> = AssetType::ALL.iter().map(|t| t.name()).collect();
        format!("unknown type `{s}`; use one of {}", known.join(", "))
    })
}

/// Parses the command line, runs it, prints any error once, returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
        }
    };
    match run(cli) {
        Ok(()) => EXIT_OK,
        Err(e) => {
            match e.downcast_ref::<Blocked>() {
                Some(b) => eprintln!("{b}"),
                None => eprintln!("packer: error: {e:#}"),
            }
            EXIT_FAILED
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let dir = cli.project_dir.unwrap_or_else(|| PathBuf::from("."));
    match cli.cmd {
        Cmd::Init => commands::init(&dir),
        Cmd::Add {
            dir: d,
            ty,
            name,
            sources,
        } => commands::add(
            &dir,
            &commands::AddOptions {
                dir: d,
                ty,
                name,
                sources,
            },
        ),
        Cmd::Adopt { dir: d } => commands::adopt(&dir, &d),
        Cmd::Forget { asset } => commands::forget(&dir, &asset),
        Cmd::Mv { asset, to } => commands::mv(&dir, &asset, &to),
        Cmd::List { json } => commands::list(&dir, json),
        Cmd::Show { asset, json } => commands::show(&dir, &asset, json),
        Cmd::Gen {
            build_dir,
            ninja_file,
        } => {
            let r = gen::run(
                &dir,
                &gen::Options {
                    build_dir,
                    ninja_file,
                },
            )?;
            eprintln!(
                "packer gen: {} assets, {} key files rewritten, {} stale files removed{}",
                r.assets,
                r.keys_rewritten,
                r.removed,
                if r.ninja_written {
                    ", build.ninja written"
                } else {
                    ""
                }
            );
            Ok(())
        }
        Cmd::Step(StepCmd::Blob(a)) => step::blob::run(&step::AssetStepOptions {
            key: a.key,
            root: dir.join(a.root),
            out: dir.join(a.out),
        }),
        Cmd::Step(StepCmd::Pack {
            key,
            rsp,
            obj_dir,
            out_dir,
        }) => step::pack::run(&step::pack::Options {
            key: key.map(|k| dir.join(k)),
            rsp: rsp.map(|r| dir.join(r)),
            obj_dir: dir.join(obj_dir),
            out_dir: dir.join(out_dir),
            project: dir.clone(),
        }),
        Cmd::Inspect { file, json } => commands::inspect(&dir.join(file), json),
    }
}
