//! Compiles c/baselines.c with `-O3 -march=native` when a C compiler is
//! present and sets `cfg(symgrad_cbench_c)`; without one the crate still
//! builds and its baselines report themselves as skipped.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(symgrad_cbench_c)");
    println!("cargo:rerun-if-changed=c/baselines.c");
    println!("cargo:rerun-if-env-changed=CC");
    let mut build = cc::Build::new();
    build
        .file("c/baselines.c")
        .opt_level(3)
        // Benches only: the C baseline may use every vector unit of the
        // machine it is built on, as `gcc -O3 -march=native` would.
        .flag_if_supported("-march=native")
        .flag_if_supported("-std=c99")
        .warnings(true);
    let description = compiler_description(&build);
    match build.try_compile("symgrad_cbench") {
        Ok(()) => {
            println!("cargo:rustc-cfg=symgrad_cbench_c");
            println!("cargo:rustc-env=SYMGRAD_CBENCH_CC={description}");
        }
        Err(e) => {
            println!("cargo:warning=symgrad-cbench: no C baseline ({e}); the benches skip it");
        }
    }
}

/// The compiler's first `--version` line and the flags, for the benches'
/// headers ("gcc (Debian 12.2.0-14) 12.2.0, -O3 -march=native").
fn compiler_description(build: &cc::Build) -> String {
    let Ok(tool) = build.try_get_compiler() else {
        return "unknown C compiler".to_string();
    };
    let version = std::process::Command::new(tool.path())
        .arg("--version")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_string))
        .unwrap_or_else(|| tool.path().display().to_string());
    format!("{version}, -O3 -march=native")
}
