//! Convolution weights rearranged once for the kernel that reads them.

use crate::kernels::PackLayout;
#[cfg(feature = "alloc")]
use crate::param::CacheAligned;
use core::cell::UnsafeCell;
use core::mem::MaybeUninit;
use core::sync::atomic::{AtomicU8, Ordering};

/// The weights of one convolution laid out, once, in the order its fast
/// kernel reads them (see [`crate::kernels::conv2d_pack`]), next to the
/// weights themselves (which the other instruction sets and the portable
/// kernel read): `N` floats, as many as the weights or none.
///
/// A generated model holds one per convolution. `from_safetensors` and
/// `from_fn` pack into a 64-byte aligned heap buffer; `embedded()` packs,
/// on its first call in the process, into a static buffer (no allocation).
/// Convolutions whose plan reads the weights in place, and every
/// convolution on other targets than x86-64, keep [`Packed::NONE`].
pub struct Packed<const N: usize> {
    data: Data<N>,
    layout: Option<PackLayout>,
}

enum Data<const N: usize> {
    None,
    Static(&'static [f32; N]),
    #[cfg(feature = "alloc")]
    Owned(alloc::boxed::Box<CacheAligned<[f32; N]>>),
}

impl<const N: usize> Packed<N> {
    /// No packed weights: the kernel lays out what it needs per call.
    ///
    /// ```
    /// assert!(!cnn_runtime::Packed::<16>::NONE.is_packed());
    /// ```
    pub const NONE: Self = Packed {
        data: Data::None,
        layout: None,
    };

    /// Packs into a new 64-byte aligned heap buffer: `fill` writes it (it
    /// starts zeroed) and says which plan it laid the weights out for, or
    /// `None` to keep nothing (the buffer is freed).
    ///
    /// ```
    /// let none = cnn_runtime::Packed::<4>::from_fn(|_| None);
    /// assert!(!none.is_packed());
    /// ```
    #[cfg(feature = "alloc")]
    pub fn from_fn(fill: impl FnOnce(&mut [f32; N]) -> Option<PackLayout>) -> Self {
        if N == 0 {
            return Self::NONE;
        }
        let mut data: alloc::boxed::Box<CacheAligned<[f32; N]>> = bytemuck::zeroed_box();
        match fill(&mut data.0) {
            Some(layout) => Packed {
                data: Data::Owned(data),
                layout: Some(layout),
            },
            None => Self::NONE,
        }
    }

    /// Whether the kernel has packed weights to read (on the plan they
    /// were packed for).
    ///
    /// ```
    /// assert!(!cnn_runtime::Packed::<0>::NONE.is_packed());
    /// ```
    pub fn is_packed(&self) -> bool {
        self.layout.is_some() && !matches!(self.data, Data::None)
    }

    /// The packed floats and their layout, if any.
    pub(crate) fn get(&self) -> Option<(&[f32], PackLayout)> {
        let data: &[f32] = match &self.data {
            Data::None => return None,
            Data::Static(data) => &data[..],
            #[cfg(feature = "alloc")]
            Data::Owned(data) => &data.0[..],
        };
        self.layout.map(|layout| (data, layout))
    }
}

/// A static buffer that an embedded model packs one convolution's weights
/// into, once per process: the first `embedded()` call fills it, racing
/// callers wait, later calls reuse it. (Not public API: generated code
/// declares one per convolution.)
pub struct PackCell<const N: usize> {
    state: AtomicU8,
    layout: UnsafeCell<Option<PackLayout>>,
    // Uninitialised rather than `[0.0; N]`: a zero array would be built by
    // const evaluation at compile time, megabytes for a large layer.
    data: UnsafeCell<MaybeUninit<[f32; N]>>,
}

const EMPTY: u8 = 0;
const BUSY: u8 = 1;
const READY: u8 = 2;

// SAFETY: `data` and `layout` are written only by the one caller that moved
// `state` from EMPTY to BUSY, and read only after `state` is READY
// (Release/Acquire), after which nothing writes them.
unsafe impl<const N: usize> Sync for PackCell<N> {}

impl<const N: usize> Default for PackCell<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> PackCell<N> {
    /// An empty cell.
    pub const fn new() -> Self {
        PackCell {
            state: AtomicU8::new(EMPTY),
            layout: UnsafeCell::new(None),
            data: UnsafeCell::new(MaybeUninit::uninit()),
        }
    }

    /// The packed weights: filled by `fill` (on a zeroed buffer) on the
    /// first call, the same on every later one.
    pub fn get_or_pack(&'static self, fill: impl FnOnce(&mut [f32; N]) -> Option<PackLayout>) -> Packed<N> {
        if N == 0 {
            return Packed::NONE;
        }
        // Used once: this caller fills the cell at most once, then sees READY.
        let mut fill = Some(fill);
        loop {
            // A plain load first: after the first call the cell is READY and
            // a compare-exchange (a locked instruction) would be wasted.
            let seen = match self.state.load(Ordering::Acquire) {
                EMPTY => self
                    .state
                    .compare_exchange(EMPTY, BUSY, Ordering::Acquire, Ordering::Acquire),
                other => Err(other),
            };
            match seen {
                Ok(_) => {
                    let Some(fill) = fill.take() else {
                        unreachable!("a cell is filled at most once per caller")
                    };
                    // Back to EMPTY if `fill` panics, so that waiters retry
                    // instead of spinning forever.
                    struct Reset<'a>(&'a AtomicU8);
                    impl Drop for Reset<'_> {
                        fn drop(&mut self) {
                            self.0.store(EMPTY, Ordering::Release);
                        }
                    }
                    let reset = Reset(&self.state);
                    // SAFETY: this caller alone moved EMPTY -> BUSY, so no
                    // one else accesses `data` or `layout` until READY.
                    // All-zero bits are a valid `[f32; N]`.
                    let layout = unsafe {
                        let data = self.data.get().cast::<[f32; N]>();
                        data.write_bytes(0, 1);
                        fill(&mut *data)
                    };
                    // SAFETY: as above.
                    unsafe { *self.layout.get() = layout };
                    core::mem::forget(reset);
                    self.state.store(READY, Ordering::Release);
                }
                Err(READY) => {
                    // SAFETY: READY (Acquire): both were written and are
                    // never written again.
                    let (data, layout) = unsafe { (&*self.data.get().cast::<[f32; N]>(), *self.layout.get()) };
                    return Packed {
                        data: Data::Static(data),
                        layout,
                    };
                }
                Err(_) => core::hint::spin_loop(),
            }
        }
    }
}
