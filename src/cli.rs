//! Command-line surface: what the user typed (clap types) → calls into the modules that do
//! the work. `main` prints the error chain once and maps it to a documented exit code.

use crate::decl::AssetType;
use crate::keys::Mode;
use crate::{commands, gen, status, step};
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
    Init {
        /// Create it even inside another workspace (a nested, separate workspace).
        #[arg(long)]
        force: bool,
    },
    /// Create an asset.json in DIR if it has none, and register it (allocates the next asset_id).
    Add {
        dir: PathBuf,
        #[arg(long = "type", value_parser = parse_type, help = type_help())]
        ty: AssetType,
        /// Asset name (default: the directory name).
        #[arg(long)]
        name: Option<String>,
        /// Input file, relative to DIR (repeatable; default: every file in DIR).
        #[arg(long = "source", value_name = "FILE")]
        sources: Vec<String>,
        /// For a tilemap: the tile_bank whose PNGs its tilesets use.
        #[arg(long, value_name = "BANK")]
        tiles: Option<String>,
        /// An output.metadata parameter (repeatable): `--set resample=linear`, `--set tile_size=8`.
        /// VALUE is read as JSON when it parses (numbers, true, objects), else as a string.
        #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_param)]
        set: Vec<(String, serde_json::Value)>,
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
    Gen(GenArgs),
    /// gen, then run Ninja (`$NINJA`, `ninja`, `ninja-build` or `samu`) on the result.
    Build {
        #[command(flatten)]
        gen: GenArgs,
        /// Run N jobs in parallel (Ninja's -j).
        #[arg(short = 'j', value_name = "N")]
        jobs: Option<u32>,
        /// Keep going until N jobs fail (Ninja's -k).
        #[arg(short = 'k', value_name = "N")]
        keep_going: Option<u32>,
        /// Targets to build (default: assets.pa): asset names, `assets`, paths.
        targets: Vec<String>,
    },
    /// Before building: which actions will run and why, computed from strong keys.
    Status {
        #[arg(long, default_value = "build")]
        build_dir: String,
        #[command(flatten)]
        cache: CacheArgs,
        #[command(flatten)]
        mode: ModeArgs,
        #[arg(long)]
        json: bool,
    },
    /// After building: what changed in an asset's key since its previous build, field by
    /// field, and how its output was obtained. ASSET is a name, id, path, or `pack`.
    Explain {
        asset: String,
        #[arg(long, default_value = "build")]
        build_dir: String,
        #[arg(long)]
        json: bool,
    },
    /// Evict cache entries, least recently used first.
    Gc {
        /// Evict entries unused for this long (30s, 15m, 2h, 7d; 0 empties the cache).
        #[arg(long, value_parser = crate::cache::parse_duration)]
        max_age: Option<std::time::Duration>,
        /// Then evict the oldest until the cache holds at most this much (e.g. 500M, 2G).
        #[arg(long, value_parser = crate::cache::parse_size)]
        max_size: Option<u64>,
        #[command(flatten)]
        cache: CacheArgs,
    },
    /// Inspect the artifact cache.
    #[command(subcommand)]
    Cache(CacheCmd),
    /// Rebuild everything clean in a temporary directory, without the cache, and compare
    /// byte for byte with the current build. Exits 1 with a per-asset report on differences.
    Verify {
        #[arg(long, default_value = "build")]
        build_dir: String,
        #[arg(long)]
        json: bool,
    },
    /// Run one build step, as build.ninja does (or by hand).
    #[command(subcommand)]
    Step(StepCmd),
    /// Print the CMake module that defines packer_add_assets() (redirect it into your project).
    CmakeModule,
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
    /// Print the man page (roff) generated from this command line.
    Man,
    /// Print the asset table of a built assets.pa.
    Inspect {
        #[arg(default_value = "build/assets.pa")]
        file: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum CacheCmd {
    /// Number and size of CAS objects and action entries.
    Stats {
        #[command(flatten)]
        cache: CacheArgs,
        #[arg(long)]
        json: bool,
    },
    /// Check every entry against its digest; remove and list the corrupt ones (exit 1).
    Verify {
        #[command(flatten)]
        cache: CacheArgs,
    },
}

/// Options shared by `gen` and `build`.
#[derive(clap::Args, Debug)]
struct GenArgs {
    /// Build directory, relative to the project directory (or absolute).
    #[arg(long, default_value = "build")]
    build_dir: String,
    /// Where to write build.ninja, relative to the project directory.
    #[arg(long, default_value = "build.ninja")]
    ninja_file: String,
    /// The project directory as seen from the directory Ninja runs in, for a build.ninja
    /// pulled into a parent build with `subninja` (every path gets this prefix).
    #[arg(long, value_name = "DIR")]
    prefix: Option<String>,
    /// Also write a Make-style depfile listing every input (for CMake's DEPFILE).
    #[arg(long, value_name = "FILE")]
    depfile: Option<String>,
    /// The target the depfile names (default: <build-dir>/assets.pa); a build that runs
    /// packer for a stamp file (CMake's Makefile generator) names the stamp.
    #[arg(long, value_name = "FILE", requires = "depfile")]
    depfile_target: Option<String>,
    /// Print nothing but diagnostics.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// How many key edges build.ninja splits the key files over (default: one per 2,500
    /// assets, at most 16). An edit runs only the key edge of its assets.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=64))]
    key_shards: Option<u32>,
    /// Set by the generator edge of build.ninja.
    #[arg(long, hide = true)]
    regen: bool,
    /// Set by a key edge of build.ninja: which one.
    #[arg(long, hide = true, value_name = "K")]
    key_shard: Option<u32>,
    #[command(flatten)]
    cache: CacheArgs,
    #[command(flatten)]
    mode: ModeArgs,
}

impl GenArgs {
    fn options(&self) -> gen::Options {
        gen::Options {
            build_dir: self.build_dir.trim_end_matches('/').to_string(),
            ninja_file: self.ninja_file.clone(),
            cache_dir: self.cache.resolve(),
            mode: self.mode.resolve(),
            prefix: self
                .prefix
                .as_ref()
                .map(|p| p.trim_end_matches('/').to_string())
                .filter(|p| !p.is_empty() && p != "."),
            depfile: self.depfile.clone(),
            depfile_target: self.depfile_target.clone(),
            key_shards: self.key_shards,
            regen: self.regen,
            key_shard: self.key_shard,
            progress: !(self.quiet || self.regen),
        }
    }

    /// Runs gen and prints its one-line summary unless quiet.
    fn run(&self, dir: &std::path::Path) -> anyhow::Result<gen::Options> {
        let opts = self.options();
        let r = gen::run(dir, &opts)?;
        if r.unchanged && !(self.quiet || self.regen) {
            match r.hashed {
                0 => eprintln!("packer gen: nothing changed"),
                n => eprintln!("packer gen: nothing changed ({n} touched files re-hashed: same bytes)"),
            }
        } else if !(self.quiet || self.regen) {
            eprintln!(
                "packer gen: {} assets, {} files hashed, {} key files rewritten, {} restored from the cache, {} stale files removed{}",
                r.assets,
                r.hashed,
                r.keys_rewritten,
                r.restored,
                r.removed,
                if r.ninja_written { ", build.ninja written" } else { "" }
            );
        }
        Ok(opts)
    }
}

/// Where the artifact cache is: `--cache-dir`, else `$PACKER_CACHE_DIR`, else
/// `assets/.prometeu/cache`.
#[derive(clap::Args, Debug)]
struct CacheArgs {
    /// Artifact cache directory (shared by several workspaces or worktrees).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<String>,
    /// Use no artifact cache.
    #[arg(long, conflicts_with = "cache_dir")]
    no_cache: bool,
}

impl CacheArgs {
    fn resolve(&self) -> Option<String> {
        if self.no_cache {
            return None;
        }
        let env = std::env::var(crate::cache::ENV).ok().filter(|s| !s.is_empty());
        Some(self.cache_dir.clone().or(env).unwrap_or_else(|| crate::cache::DEFAULT_DIR.into()))
    }
}

/// Strict (default) or non-strict: `--non-strict`, or `PACKER_NON_STRICT=1`.
#[derive(clap::Args, Debug)]
struct ModeArgs {
    /// Gate dependants by weak keys and reuse artifacts found by weak key.
    #[arg(long)]
    non_strict: bool,
    /// Strict mode even when PACKER_NON_STRICT is set.
    #[arg(long, conflicts_with = "non_strict")]
    strict: bool,
}

impl ModeArgs {
    fn resolve(&self) -> Mode {
        Mode::resolve(self.non_strict, self.strict)
    }
}

#[derive(Subcommand, Debug)]
enum StepCmd {
    /// One per asset type, from its table entry (types.rs): `blob`, `tiles`, …
    #[command(flatten)]
    Asset(AssetStep),
    /// Assemble assets.pa, asset_table.json, preload.json and asset_table_metadata.json in
    /// OUT_DIR from the artifacts in OBJ_DIR (listed in RSP when given). Without --key,
    /// computes the key from the workspace and the artifacts' records.
    Pack(PackArgs),
}

/// `packer step <name>` for each asset type: the subcommands come from the type table, so a
/// new type needs no line here.
#[derive(Debug)]
struct AssetStep {
    ty: AssetType,
    args: AssetStepArgs,
}

impl clap::FromArgMatches for AssetStep {
    fn from_arg_matches(m: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let Some((name, sub)) = m.subcommand() else {
            return Err(clap::Error::new(clap::error::ErrorKind::MissingSubcommand));
        };
        let ty = AssetType::of_step(name).ok_or_else(|| clap::Error::new(clap::error::ErrorKind::InvalidSubcommand))?;
        Ok(AssetStep { ty, args: AssetStepArgs::from_arg_matches(sub)? })
    }

    fn update_from_arg_matches(&mut self, m: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = AssetStep::from_arg_matches(m)?;
        Ok(())
    }
}

impl clap::Subcommand for AssetStep {
    fn augment_subcommands(cmd: clap::Command) -> clap::Command {
        AssetType::ALL.iter().fold(cmd, |cmd, t| {
            cmd.subcommand(
                <AssetStepArgs as clap::Args>::augment_args(clap::Command::new(t.step().0)).about(t.info().about),
            )
        })
    }

    fn augment_subcommands_for_update(cmd: clap::Command) -> clap::Command {
        AssetStep::augment_subcommands(cmd)
    }

    fn has_subcommand(name: &str) -> bool {
        AssetType::of_step(name).is_some()
    }
}

/// Arguments of `packer step pack`. `--build-dir B` (what build.ninja passes) means
/// `--key B/keys/pack.key --rsp B/pack.rsp --obj-dir B/obj --out-dir B`; each can be overridden.
/// Without a key file the step computes its key from the workspace.
#[derive(clap::Args, Debug)]
struct PackArgs {
    /// Build directory gen wrote (sets the defaults below).
    #[arg(long)]
    build_dir: Option<PathBuf>,
    /// Key file written by `packer gen`.
    #[arg(long)]
    key: Option<PathBuf>,
    /// Response file Ninja wrote: the key file and each artifact's .bin, one a line.
    #[arg(long)]
    rsp: Option<PathBuf>,
    /// Where the asset artifacts are (default: build/obj).
    #[arg(long)]
    obj_dir: Option<PathBuf>,
    /// Where assets.pa and the JSON companions go (default: build).
    #[arg(long)]
    out_dir: Option<PathBuf>,
    /// Artifact cache directory.
    #[arg(long)]
    cache: Option<PathBuf>,
}

impl PackArgs {
    fn resolve(self) -> step::pack::Options {
        let b = self.build_dir.clone();
        let under = |f: &str| b.as_ref().map(|b| b.join(f));
        step::pack::Options {
            key: self.key.or_else(|| under("keys/pack.key")),
            rsp: self.rsp.or_else(|| under("pack.rsp")),
            obj_dir: self.obj_dir.or_else(|| under("obj")).unwrap_or_else(|| PathBuf::from("build/obj")),
            out_dir: self.out_dir.or(b).unwrap_or_else(|| PathBuf::from("build")),
            cache: self.cache,
            project: PathBuf::from("."),
        }
    }
}

/// Arguments of an asset step. `--id N` (what build.ninja passes) means
/// `--key B/keys/N.key --out B/obj/N` with B = `--build-dir` (default build).
#[derive(clap::Args, Debug)]
struct AssetStepArgs {
    /// The asset root directory.
    #[arg(long)]
    root: PathBuf,
    /// The asset's id: key file and outputs at their places in the build directory.
    #[arg(long, conflicts_with = "out")]
    id: Option<u64>,
    /// Build directory (with --id).
    #[arg(long, default_value = "build")]
    build_dir: PathBuf,
    /// Key file written by `packer gen` (without it, the step computes its own key).
    #[arg(long)]
    key: Option<PathBuf>,
    /// Output prefix: writes OUT.bin, OUT.json and the record OUT.rec.
    #[arg(long, required_unless_present = "id")]
    out: Option<PathBuf>,
    /// Artifact cache directory.
    #[arg(long)]
    cache: Option<PathBuf>,
}

impl AssetStepArgs {
    fn resolve(self) -> step::AssetStepOptions {
        let (key, out) = match self.id {
            Some(id) => (
                Some(self.key.unwrap_or_else(|| self.build_dir.join(format!("keys/{id}.key")))),
                self.build_dir.join(format!("obj/{id}")),
            ),
            None => (self.key, self.out.unwrap_or_default()),
        };
        step::AssetStepOptions { key, root: self.root, out, cache: self.cache, project: PathBuf::from(".") }
    }
}

fn parse_param(s: &str) -> Result<(String, serde_json::Value), String> {
    let Some((k, v)) = s.split_once('=').filter(|(k, _)| !k.is_empty()) else {
        return Err(format!("`{s}` is not KEY=VALUE (e.g. resample=linear)"));
    };
    let value = serde_json::from_str(v).unwrap_or_else(|_| serde_json::Value::String(v.to_string()));
    Ok((k.to_string(), value))
}

/// `--type`'s help: the types of the table.
fn type_help() -> String {
    let known: Vec<_> = AssetType::ALL.iter().map(|t| t.name()).collect();
    format!("Asset type: {}", known.join(", "))
}

fn parse_type(s: &str) -> Result<AssetType, String> {
    AssetType::parse(s).ok_or_else(|| {
        let known: Vec<_> = AssetType::ALL.iter().map(|t| t.name()).collect();
        format!(
            "unknown type `{s}`{}; the types are {}",
            crate::suggest::did_you_mean(s, known.iter().copied()),
            known.join(", ")
        )
    })
}

/// Parses the command line, runs it, prints any error once, returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        // --help and --version are not errors.
        Err(e) if !e.use_stderr() => {
            let _ = e.print();
            return EXIT_OK;
        }
        Err(e) => {
            eprintln!("{}", usage_diagnostic(&e).render(crate::diag::stderr_color()));
            return EXIT_USAGE;
        }
    };
    let mut shown_dir = String::from(".");
    let result = run(cli, &mut shown_dir);
    let Err(e) = result else { return EXIT_OK };
    // A reader that went away (`packer list | head -1`) ends the output, quietly, as it
    // does for the tools that write to pipes: every write to stdout goes through
    // `out::outln!`, which returns the error instead of panicking as `println!` does.
    if e.chain()
        .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe))
    {
        return EXIT_OK;
    }
    let diags = crate::diag::diagnostics_of(&e, &shown_dir);
    let color = crate::diag::stderr_color();
    for d in &diags {
        eprintln!("{}", d.render(color));
    }
    if diags.iter().any(|d| d.code == crate::diag::Code::PK028) {
        EXIT_USAGE
    } else {
        EXIT_FAILED
    }
}

/// A command-line error from clap in packer's one form: `.: error[PK028]: …` and a fix that
/// shows the usage (and clap's tip, such as a similar subcommand, when it has one).
fn usage_diagnostic(e: &clap::Error) -> crate::diag::Diagnostic {
    let text = e.render().to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let message = lines.next().unwrap_or("invalid command line").trim_start_matches("error: ").to_string();
    let mut fix: Vec<String> = Vec::new();
    for l in lines {
        if let Some(tip) = l.strip_prefix("tip: ") {
            fix.push(tip.to_string());
        } else if let Some(usage) = l.strip_prefix("Usage: ") {
            fix.push(format!("usage: {usage}"));
        }
    }
    fix.push("`packer --help` lists the commands; `packer <command> --help` their options".into());
    crate::diag::Diagnostic::error(crate::diag::Code::PK028, message, fix.join("; ")).file(".")
}

/// Where a command runs. `-C DIR` names the project directory; otherwise commands that work
/// on a workspace find it as git and cargo do, walking up from the current directory to the
/// first directory holding `assets/.prometeu/index.json`.
enum Place {
    /// The current directory (after `-C`), whatever it holds: init, steps, generators.
    Here,
    /// The workspace, found upwards when there is one (inspect works without).
    Discover,
}

impl Cmd {
    fn place(&self) -> Place {
        match self {
            Cmd::Init { .. } | Cmd::Step(_) | Cmd::CmakeModule | Cmd::Completions { .. } | Cmd::Man => Place::Here,
            _ => Place::Discover,
        }
    }
}

fn run(cli: Cli, shown_dir: &mut String) -> anyhow::Result<()> {
    // -C works like git's and ninja's: change directory first; every path is then relative
    // to the project directory.
    if let Some(d) = &cli.project_dir {
        *shown_dir = d.display().to_string();
        if let Err(e) = std::env::set_current_dir(d) {
            return crate::diag::fail(
                crate::diag::Diagnostic::error(
                    crate::diag::Code::PK020,
                    format!("cannot enter the project directory: {e}"),
                    "pass -C the directory that holds assets/",
                )
                .file(d.display()),
            );
        }
    }
    let invoked = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut cmd = cli.cmd;
    if cli.project_dir.is_none() && matches!(cmd.place(), Place::Discover) {
        match crate::workspace::find_enclosing(&invoked) {
            Some(root) if root != invoked => {
                // Paths the user typed are relative to where they typed them.
                cmd.absolutize(&invoked);
                *shown_dir = root.display().to_string();
                std::env::set_current_dir(&root)
                    .map_err(|e| anyhow::anyhow!("cannot enter {}: {e}", root.display()))?;
            }
            _ => {}
        }
    }
    let dir = PathBuf::from(".");
    match cmd {
        Cmd::Init { force } => commands::init(&dir, force),
        Cmd::Add { dir: d, ty, name, sources, tiles, set } => {
            commands::add(&dir, &commands::AddOptions { dir: d, ty, name, sources, tiles, set })
        }
        Cmd::Adopt { dir: d } => commands::adopt(&dir, &d),
        Cmd::Forget { asset } => commands::forget(&dir, &asset),
        Cmd::Mv { asset, to } => commands::mv(&dir, &asset, &to),
        Cmd::List { json } => commands::list(&dir, json),
        Cmd::Show { asset, json } => commands::show(&dir, &asset, json),
        Cmd::Gen(g) => g.run(&dir).map(drop),
        Cmd::Build { gen, jobs, keep_going, targets } => {
            // One `packer build` of a build directory at a time: two Ninjas in one build
            // directory may both compact its log at once, and then one fails ("opening build
            // log"). The second build waits, then finds what the first left.
            let build_dir = dir.join(gen.build_dir.trim_end_matches('/'));
            let _one_build = crate::lock::acquire(
                &build_dir.join(".packer-build-lock"),
                crate::lock::Mode::Exclusive,
                "this build directory's build",
            )?;
            let opts = gen.run(&dir)?;
            let mut args: Vec<String> = Vec::new();
            if let Some(j) = jobs {
                args.extend(["-j".into(), j.to_string()]);
            }
            if let Some(k) = keep_going {
                args.extend(["-k".into(), k.to_string()]);
            }
            args.extend(targets);
            crate::runner::run_ninja(&dir, &opts.ninja_file, &args, false)
        }
        Cmd::Step(StepCmd::Asset(a)) => match step::run_asset(a.ty.step().0, &a.args.resolve()) {
            Some(done) => done.map(drop),
            None => anyhow::bail!("no step module converts {}", a.ty.name()),
        },
        Cmd::Step(StepCmd::Pack(a)) => step::pack::run(&a.resolve()).map(drop),
        Cmd::Status { build_dir, cache, mode, json } => {
            let mode = mode.resolve();
            let list = status::status(&dir, &status::Options { build_dir, cache_dir: cache.resolve(), mode })?;
            status::print_status(&list, mode, json)
        }
        Cmd::Explain { asset, build_dir, json } => {
            status::print_explanation(&status::explain_query(&dir, &build_dir, &asset)?, json)
        }
        Cmd::Gc { max_age, max_size, cache } => crate::cache_commands::gc(&dir, cache.resolve(), max_age, max_size),
        Cmd::Cache(CacheCmd::Stats { cache, json }) => crate::cache_commands::stats(&dir, cache.resolve(), json),
        Cmd::Cache(CacheCmd::Verify { cache }) => crate::cache_commands::verify(&dir, cache.resolve()),
        Cmd::Verify { build_dir, json } => crate::verify::run(&dir, &build_dir, json),
        Cmd::CmakeModule => {
            crate::out::out!("{}", include_str!("../templates/PackerAssets.cmake"))?;
            Ok(())
        }
        Cmd::Completions { shell } => {
            // Rendered first: clap_complete panics on a failed write.
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut <Cli as clap::CommandFactory>::command(), "packer", &mut script);
            std::io::Write::write_all(&mut std::io::stdout().lock(), &script)?;
            Ok(())
        }
        Cmd::Man => {
            clap_mangen::Man::new(<Cli as clap::CommandFactory>::command()).render(&mut std::io::stdout())?;
            Ok(())
        }
        // The working directory is the project: a path shown as typed.
        Cmd::Inspect { file, json } => commands::inspect(&file, json),
    }
}

impl Cmd {
    /// Makes the paths the user typed absolute (from `cwd`), before the command moves to the
    /// workspace it found above. Asset queries that name a directory get the same treatment.
    fn absolutize(&mut self, cwd: &std::path::Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = cwd.join(&*p);
            }
        };
        let query = |q: &mut String| {
            let p = cwd.join(&*q);
            if q.parse::<u64>().is_err() && p.is_dir() {
                *q = p.display().to_string();
            }
        };
        match self {
            Cmd::Add { dir, .. } | Cmd::Adopt { dir } => abs(dir),
            Cmd::Mv { asset, to } => {
                query(asset);
                abs(to)
            }
            Cmd::Forget { asset } | Cmd::Show { asset, .. } => query(asset),
            Cmd::Explain { asset, .. } if asset != "pack" => query(asset),
            Cmd::Inspect { file, .. } if file != std::path::Path::new("build/assets.pa") => abs(file),
            _ => {}
        }
    }
}
