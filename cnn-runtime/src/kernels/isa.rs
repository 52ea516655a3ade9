//! Run-time choice of the instruction set the fast kernels use.
//!
//! With `std`, the CPU is probed once (`is_x86_feature_detected!`) and the
//! answer cached in an atomic; without `std` the choice is the compile-time
//! target features (`-C target-cpu` / `-C target-feature`). Tests can force
//! a weaker path on the current thread with `for_each_isa`, so every
//! instruction set the machine has is checked against the reference.

/// An instruction set the kernels have a path for, weakest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Isa {
    /// Plain Rust, auto-vectorised for the compile-time target: correct
    /// everywhere.
    Portable = 1,
    /// x86-64 AVX2 with FMA: 8-lane vectors, 16 registers.
    Avx2 = 2,
    /// x86-64 AVX-512F: 16-lane vectors, 32 registers, lane masks.
    Avx512 = 3,
}

impl Isa {
    /// Every path, weakest first.
    #[cfg(test)]
    pub(crate) const ALL: [Isa; 3] = [Isa::Portable, Isa::Avx2, Isa::Avx512];

    #[cfg(any(feature = "std", test))]
    fn from_code(code: u8) -> Option<Isa> {
        match code {
            1 => Some(Isa::Portable),
            2 => Some(Isa::Avx2),
            3 => Some(Isa::Avx512),
            _ => None,
        }
    }
}

/// The best instruction set this CPU supports.
#[inline]
pub(crate) fn detected() -> Isa {
    #[cfg(any(feature = "std", test))]
    {
        use core::sync::atomic::{AtomicU8, Ordering};
        // 0 = not probed yet. Racing first calls all store the same value.
        static CACHE: AtomicU8 = AtomicU8::new(0);
        if let Some(isa) = Isa::from_code(CACHE.load(Ordering::Relaxed)) {
            return isa;
        }
        let isa = probe();
        CACHE.store(isa as u8, Ordering::Relaxed);
        isa
    }
    #[cfg(not(any(feature = "std", test)))]
    {
        probe()
    }
}

/// The name of the instruction set the kernels use on this thread:
/// `"avx512"`, `"avx2"` or `"portable"` (for logs and benchmark reports).
///
/// ```
/// let isa = cnn_runtime::kernels::instruction_set();
/// assert!(["avx512", "avx2", "portable"].contains(&isa));
/// ```
pub fn instruction_set() -> &'static str {
    match active() {
        Isa::Avx512 => "avx512",
        Isa::Avx2 => "avx2",
        Isa::Portable => "portable",
    }
}

/// The environment variable that caps the instruction set (see
/// [`crate::kernels`]): `portable`, `avx2` or `avx512`.
pub const MAX_ISA_VAR: &str = "CNN_RUNTIME_MAX_ISA";

/// Asks the CPU (with std) or the compile-time target features (without),
/// then applies the [`MAX_ISA_VAR`] cap (with std).
#[cold]
fn probe() -> Isa {
    let best = probe_cpu();
    #[cfg(any(feature = "std", test))]
    {
        extern crate std;
        if let Ok(cap) = std::env::var(MAX_ISA_VAR) {
            return match parse_cap(&cap) {
                Some(cap) => best.min(cap),
                None => {
                    std::eprintln!("cnn-runtime: ignoring {MAX_ISA_VAR}={cap:?} (expected portable, avx2 or avx512)");
                    best
                }
            };
        }
    }
    best
}

/// A [`MAX_ISA_VAR`] value, case-insensitive.
#[cfg(any(feature = "std", test))]
fn parse_cap(value: &str) -> Option<Isa> {
    match value.trim().to_ascii_lowercase().as_str() {
        "portable" => Some(Isa::Portable),
        "avx2" => Some(Isa::Avx2),
        "avx512" => Some(Isa::Avx512),
        _ => None,
    }
}

/// The best instruction set the CPU (with std) or the compile-time target
/// features (without) offer.
fn probe_cpu() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        #[cfg(any(feature = "std", test))]
        {
            extern crate std;
            if std::is_x86_feature_detected!("avx512f") {
                return Isa::Avx512;
            }
            if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
                return Isa::Avx2;
            }
        }
        #[cfg(not(any(feature = "std", test)))]
        {
            if cfg!(target_feature = "avx512f") {
                return Isa::Avx512;
            }
            if cfg!(all(target_feature = "avx2", target_feature = "fma")) {
                return Isa::Avx2;
            }
        }
    }
    Isa::Portable
}

/// The environment variable that turns the Winograd convolution mode on or
/// off (see [`crate::kernels`]): `on` or `off`.
pub const WINOGRAD_VAR: &str = "CNN_RUNTIME_WINOGRAD";

/// Whether convolutions may use the Winograd mode.
///
/// On by default: with its filter transforms packed at load, F(2×2, 3×3)
/// beat the direct kernel on every CIFAR VGG layer it applies to, on a Xeon
/// with two 512-bit FMA units (1.4 to 1.6 times on AVX-512, 1.6 to 2.1
/// times on AVX2), where the earlier per-call transforms had lost. With
/// `std`, [`WINOGRAD_VAR`] turns it off (or on); the plans without it are
/// made at compile time too.
#[inline]
pub(crate) fn winograd() -> bool {
    #[cfg(test)]
    if let Some(forced) = forced::winograd() {
        return forced;
    }
    #[cfg(any(feature = "std", test))]
    {
        use core::sync::atomic::{AtomicU8, Ordering};
        // 0 = not decided yet, 1 = off, 2 = on. Racing first calls store the
        // same value.
        static CACHE: AtomicU8 = AtomicU8::new(0);
        match CACHE.load(Ordering::Relaxed) {
            1 => return false,
            2 => return true,
            _ => {}
        }
        let on = winograd_decide();
        CACHE.store(if on { 2 } else { 1 }, Ordering::Relaxed);
        on
    }
    #[cfg(not(any(feature = "std", test)))]
    {
        true
    }
}

/// [`winograd`]'s first call: the [`WINOGRAD_VAR`] override, else on.
#[cfg(any(feature = "std", test))]
#[cold]
fn winograd_decide() -> bool {
    extern crate std;
    if let Ok(value) = std::env::var(WINOGRAD_VAR) {
        match parse_switch(&value) {
            Some(on) => return on,
            None => std::eprintln!("cnn-runtime: ignoring {WINOGRAD_VAR}={value:?} (expected on or off)"),
        }
    }
    true
}

/// A [`WINOGRAD_VAR`] value, case-insensitive.
#[cfg(any(feature = "std", test))]
fn parse_switch(value: &str) -> Option<bool> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" => Some(true),
        "off" => Some(false),
        _ => None,
    }
}

/// Whether convolutions in this process may use the Winograd mode: yes,
/// unless (with `std`) [`WINOGRAD_VAR`] (`CNN_RUNTIME_WINOGRAD=off`, read
/// once at the first convolution) says otherwise. For logs and benchmark
/// reports.
///
/// ```
/// let on: bool = cnn_runtime::kernels::winograd_enabled();
/// println!("Winograd convolutions: {}", if on { "on" } else { "off" });
/// ```
pub fn winograd_enabled() -> bool {
    winograd()
}

/// The instruction set the kernels should use now: [`detected`], unless a
/// test forced a weaker one on this thread.
#[inline]
pub(crate) fn active() -> Isa {
    #[cfg(test)]
    if let Some(forced) = forced::get() {
        return forced;
    }
    detected()
}

#[cfg(test)]
mod forced {
    extern crate std;

    use super::Isa;
    use core::cell::Cell;

    std::thread_local! {
        static FORCED: Cell<Option<Isa>> = const { Cell::new(None) };
    }

    pub(super) fn get() -> Option<Isa> {
        FORCED.with(Cell::get)
    }

    pub(super) fn set(isa: Option<Isa>) {
        FORCED.with(|f| f.set(isa));
    }

    std::thread_local! {
        static WINOGRAD: Cell<Option<bool>> = const { Cell::new(None) };
    }

    pub(super) fn winograd() -> Option<bool> {
        WINOGRAD.with(Cell::get)
    }

    pub(super) fn set_winograd(on: Option<bool>) {
        WINOGRAD.with(|f| f.set(on));
    }
}

/// Runs `f` with the kernels on this thread forced onto `isa` (which the
/// CPU must have), then restores the automatic choice, even if `f` panics.
#[cfg(test)]
pub(crate) fn force<R>(isa: Isa, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            forced::set(None);
        }
    }
    assert!(isa <= detected(), "forcing {isa:?} on a CPU without it");
    let _reset = Reset;
    forced::set(Some(isa));
    f()
}

/// Runs `f` with the Winograd mode forced on or off on this thread (see
/// [`winograd`]), then restores the automatic choice, even if `f` panics.
#[cfg(test)]
pub(crate) fn with_winograd<R>(on: bool, f: impl FnOnce() -> R) -> R {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            forced::set_winograd(None);
        }
    }
    let _reset = Reset;
    forced::set_winograd(Some(on));
    f()
}

/// Runs `f` once per instruction set this machine supports, with the kernels
/// on this thread forced onto it; paths the CPU lacks are skipped with a note
/// on stderr (once per process).
#[cfg(test)]
pub(crate) fn for_each_isa(mut f: impl FnMut(Isa)) {
    extern crate std;
    use core::sync::atomic::{AtomicBool, Ordering};
    static NOTED: AtomicBool = AtomicBool::new(false);

    /// Restores the automatic choice even if `f` panics.
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            forced::set(None);
        }
    }
    let _reset = Reset;
    for isa in Isa::ALL {
        if isa > detected() {
            if !NOTED.swap(true, Ordering::Relaxed) {
                std::eprintln!("note: this CPU lacks {isa:?}; its kernels are not tested here");
            }
            continue;
        }
        forced::set(Some(isa));
        f(isa);
    }
}

#[cfg(test)]
mod tests {
    extern crate alloc;
    extern crate std;

    use super::*;

    #[test]
    fn caps_parse_case_insensitively_and_reject_unknown_names() {
        assert_eq!(parse_cap("portable"), Some(Isa::Portable));
        assert_eq!(parse_cap(" AVX2 "), Some(Isa::Avx2));
        assert_eq!(parse_cap("avx512"), Some(Isa::Avx512));
        assert_eq!(parse_cap("sse"), None);
        assert_eq!(parse_cap(""), None);
    }

    #[test]
    fn winograd_switch_parses_case_insensitively_and_rejects_unknown_values() {
        assert_eq!(parse_switch("on"), Some(true));
        assert_eq!(parse_switch(" OFF "), Some(false));
        assert_eq!(parse_switch("yes"), None);
        assert_eq!(parse_switch(""), None);
    }

    #[test]
    fn override_is_per_thread_and_reset() {
        let mut seen = alloc::vec::Vec::new();
        for_each_isa(|isa| {
            assert_eq!(active(), isa);
            seen.push(isa);
        });
        assert_eq!(seen.first(), Some(&Isa::Portable));
        assert_eq!(seen.last(), Some(&detected()));
        assert_eq!(active(), detected());
        // Another thread is not affected by this one's override.
        for_each_isa(|isa| {
            let other = std::thread::spawn(active).join().expect("thread");
            assert_eq!(other, detected(), "forced {isa:?} here");
        });
    }
}
