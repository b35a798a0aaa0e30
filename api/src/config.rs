//! Where settings come from, besides flags and the environment:
//!
//! - an optional TOML file (`--config diario.toml` or `DIARIO_CONFIG`) whose keys are the
//!   flags' long names with `_` (`database_url = "postgres://…"`, `addr = "0.0.0.0:8080"`);
//! - a `*_FILE` variant of every environment variable (`DIARIO_JWT_SECRET_FILE=/run/secrets/jwt`),
//!   read once at start-up, trailing newline dropped — how container secrets arrive. A key of
//!   the file may also end in `_file` (`jwt_secret_file = "/run/secrets/jwt"`).
//!
//! Precedence: a flag, then its environment variable, then the file (or the `*_FILE`), then the
//! built-in default. Both `NAME` and `NAME_FILE` set is refused, as is a key the file does not
//! know: a typo must not pass silently for a default.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

use clap::{Command, CommandFactory, FromArgMatches};

use crate::cli::Cli;

/// The environment variable naming the configuration file.
pub const CONFIG_ENV: &str = "DIARIO_CONFIG";

/// What the file and the `*_FILE` variables gave: setting (long flag name) → where it came from
/// (never the value: the start-up summary lists these names only).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Sources {
    pub file: Option<PathBuf>,
    /// `(flag, source)`: source is `"file"` or the `*_FILE` variable's name.
    pub settings: Vec<(String, String)>,
}

/// Parses the command line with the configuration file and the `*_FILE` variables applied
/// (see the module documentation). `Err` is the message to print and exit with (status 2).
pub fn parse(
    args: Vec<OsString>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<(Cli, Sources), clap::Error> {
    let mut command = Cli::command();
    let sources = apply(&mut command, &args, env)
        .map_err(|message| Cli::command().error(clap::error::ErrorKind::InvalidValue, message))?;
    let matches = command.try_get_matches_from(args)?;
    let cli = Cli::from_arg_matches(&matches)?;
    Ok((cli, sources))
}

/// One flag a setting can fill: its subcommand path, its argument id, its environment
/// variable, whether it is a secret.
struct Setting {
    path: Vec<String>,
    id: String,
    env: String,
    secret: bool,
}

fn settings(command: &Command, path: &mut Vec<String>, out: &mut BTreeMap<String, Vec<Setting>>) {
    for arg in command.get_arguments() {
        let (Some(long), Some(env)) = (arg.get_long(), arg.get_env()) else {
            continue;
        };
        if env == CONFIG_ENV {
            continue;
        }
        out.entry(long.replace('-', "_"))
            .or_default()
            .push(Setting {
                path: path.clone(),
                id: arg.get_id().to_string(),
                env: env.to_string_lossy().into_owned(),
                secret: arg.is_hide_env_values_set(),
            });
    }
    for sub in command.get_subcommands() {
        path.push(sub.get_name().to_owned());
        settings(sub, path, out);
        path.pop();
    }
}

fn config_path(args: &[OsString], env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    let mut iter = args.iter().skip(1);
    while let Some(arg) = iter.next() {
        let arg = arg.to_string_lossy();
        if arg == "--" {
            break;
        }
        if arg == "--config" {
            return iter.next().map(PathBuf::from);
        }
        if let Some(path) = arg.strip_prefix("--config=") {
            return Some(PathBuf::from(path));
        }
    }
    env(CONFIG_ENV).filter(|p| !p.is_empty()).map(PathBuf::from)
}

fn read_secret(path: &Path, what: &str) -> Result<String, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{what}: cannot read {}: {e}", path.display()))?;
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

/// Sets the defaults of `command` from the file and the `*_FILE` variables.
fn apply(
    command: &mut Command,
    args: &[OsString],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Sources, String> {
    let mut known = BTreeMap::new();
    settings(command, &mut Vec::new(), &mut known);
    let mut sources = Sources::default();
    // key → (value, source)
    let mut values: BTreeMap<String, (String, String)> = BTreeMap::new();

    if let Some(path) = config_path(args, env) {
        let text = std::fs::read_to_string(&path)
            .map_err(|e| format!("configuration file {}: {e}", path.display()))?;
        let table: toml::Table = text
            .parse()
            .map_err(|e| format!("configuration file {}: {e}", path.display()))?;
        for (key, value) in table {
            let value = match value {
                toml::Value::String(s) => s,
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                other => {
                    return Err(format!(
                        "configuration file {}: `{key}` must be a string, a number or a boolean, not {}",
                        path.display(),
                        other.type_str()
                    ));
                }
            };
            let (name, value, source) = match key.strip_suffix("_file") {
                Some(name) if known.contains_key(name) && !known.contains_key(&key) => {
                    let secret = read_secret(Path::new(&value), &format!("`{key}`"))?;
                    (name.to_owned(), secret, format!("{key} (file)"))
                }
                _ if known.contains_key(&key) => (key.clone(), value, "file".to_owned()),
                _ => {
                    let names: Vec<&str> = known.keys().map(String::as_str).collect();
                    return Err(format!(
                        "configuration file {}: unknown setting `{key}` (known: {})",
                        path.display(),
                        names.join(", ")
                    ));
                }
            };
            values.insert(name, (value, source));
        }
        sources.file = Some(path);
    }

    for (key, list) in &known {
        let Some(setting) = list.first() else {
            continue;
        };
        if setting.env.ends_with("_FILE") {
            continue;
        }
        let file_var = format!("{}_FILE", setting.env);
        if let Some(path) = env(&file_var).filter(|p| !p.is_empty()) {
            if env(&setting.env).is_some_and(|v| !v.is_empty()) {
                return Err(format!(
                    "both {} and {file_var} are set: keep one",
                    setting.env
                ));
            }
            let secret = read_secret(Path::new(&path), &file_var)?;
            values.insert(key.clone(), (secret, file_var));
        }
    }

    for (key, (value, source)) in values {
        for setting in &known[&key] {
            // Leaked once at start-up: clap keeps `&'static str` defaults.
            let value: &'static str = Box::leak(value.clone().into_boxed_str());
            let secret = setting.secret;
            let set = |arg: clap::Arg| {
                let hide = secret || arg.is_hide_default_value_set();
                arg.default_value(value).hide_default_value(hide)
            };
            let id = setting.id.as_str();
            *command = match setting.path.as_slice() {
                [] => std::mem::take(command).mut_arg(id, set),
                [sub] => std::mem::take(command).mut_subcommand(sub, |c| c.mut_arg(id, set)),
                [sub, inner] => std::mem::take(command)
                    .mut_subcommand(sub, |c| c.mut_subcommand(inner, |c| c.mut_arg(id, set))),
                _ => continue,
            };
        }
        sources.settings.push((key, source));
    }
    Ok(sources)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Command as Sub;

    fn args(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    fn temp(name: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("diario-config-{}", uuid::Uuid::now_v7()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        path
    }

    fn serve(cli: Cli) -> Box<crate::cli::ServeArgs> {
        match cli.command {
            Sub::Serve(s) => s,
            other => panic!("not serve: {other:?}"),
        }
    }

    #[test]
    fn the_file_fills_what_flags_and_environment_leave_unset() {
        let file = temp(
            "diario.toml",
            "database_url = \"sqlite:///tmp/x.db\"\naddr = \"0.0.0.0:9000\"\nrequest_timeout_secs = 5\n",
        );
        let env = |_: &str| None;
        let (cli, sources) = parse(
            args(&[
                "diario",
                "--config",
                file.to_str().unwrap(),
                "serve",
                "--request-timeout-secs",
                "9",
            ]),
            &env,
        )
        .expect("parses");
        assert_eq!(sources.file.as_deref(), Some(file.as_path()));
        let s = serve(cli);
        assert_eq!(s.db.database_url, "sqlite:///tmp/x.db", "from the file");
        assert_eq!(s.request_timeout_secs, 9, "the flag wins over the file");
        assert_eq!(s.addr.to_string(), "0.0.0.0:9000");
    }

    #[test]
    fn a_secret_comes_from_its_file_variable_and_is_not_printed() {
        let secret = temp("jwt", "a-very-long-development-secret-of-40-bytes\n");
        let path = secret.to_str().unwrap().to_owned();
        let env = move |name: &str| (name == "DIARIO_JWT_SECRET_FILE").then(|| path.clone());
        let (cli, sources) = parse(args(&["diario", "serve"]), &env).expect("parses");
        assert_eq!(
            sources.settings,
            vec![("jwt_secret".to_owned(), "DIARIO_JWT_SECRET_FILE".to_owned())]
        );
        assert_eq!(
            serve(cli).auth.jwt_secret.as_deref(),
            Some("a-very-long-development-secret-of-40-bytes"),
            "read without its trailing newline"
        );
        let mut command = Cli::command();
        apply(&mut command, &args(&["diario", "serve"]), &env).expect("applies");
        let help = command
            .find_subcommand_mut("serve")
            .expect("serve")
            .render_long_help()
            .to_string();
        assert!(help.contains("--jwt-secret"), "{help}");
        assert!(
            !help.contains("development-secret"),
            "the help shows no secret"
        );
    }

    #[test]
    fn unknown_keys_and_double_sources_are_refused() {
        let file = temp("diario.toml", "databse_url = \"sqlite://x.db\"\n");
        let no_env = |_: &str| None;
        let e = parse(
            args(&["diario", "--config", file.to_str().unwrap(), "serve"]),
            &no_env,
        )
        .expect_err("a typo");
        assert!(
            e.to_string().contains("unknown setting `databse_url`"),
            "{e}"
        );

        let secret = temp("s", "x");
        let path = secret.to_str().unwrap().to_owned();
        let both = move |name: &str| match name {
            "DIARIO_FIRMALOM_SECRET_FILE" => Some(path.clone()),
            "DIARIO_FIRMALOM_SECRET" => Some("y".to_owned()),
            _ => None,
        };
        let e = parse(args(&["diario", "serve"]), &both).expect_err("two sources");
        assert!(
            e.to_string()
                .contains("both DIARIO_FIRMALOM_SECRET and DIARIO_FIRMALOM_SECRET_FILE"),
            "{e}"
        );

        let missing = |name: &str| {
            (name == "DATABASE_URL_FILE").then(|| "/nonexistent/diario-secret".to_owned())
        };
        let e = parse(args(&["diario", "migrate"]), &missing).expect_err("unreadable");
        assert!(
            e.to_string().contains("DATABASE_URL_FILE: cannot read"),
            "{e}"
        );
    }
}
