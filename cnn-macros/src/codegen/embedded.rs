//! `Net::embedded()`: the model over weights included in the binary.
//!
//! On ELF targets (Linux, the BSDs, bare-metal firmware) the file is
//! assembled into the object with `.incbin`: rustc and LLVM never hold the
//! bytes as a constant, so build time and memory stay flat in the weight
//! count. Elsewhere (macOS, Windows, wasm) it falls back to
//! `include_bytes!` into an aligned static, which is correct everywhere but
//! costs compile memory proportional to the file. Either way the kernels read
//! the tensors in place (but for the direct convolution kernel's transposed
//! copy, see `cnn_runtime::Packed`).

use crate::embed::Embedded;
use crate::front::Header;
use proc_macro2::TokenStream;
use quote::{format_ident, quote};

/// Targets whose assembler takes GNU `.section`/`.incbin` for ELF objects.
fn elf() -> TokenStream {
    quote!(any(
        target_os = "linux",
        target_os = "android",
        target_os = "freebsd",
        target_os = "netbsd",
        target_os = "openbsd",
        target_os = "none"
    ))
}

pub fn constructor(header: &Header, embedded: &Embedded) -> TokenStream {
    let Header { vis, ident, .. } = header;
    let Embedded {
        written,
        path,
        len,
        pad,
        offsets,
        symbol,
    } = embedded;
    let doc = format!(
        " The model with the weights of `{written}`, embedded in the binary and checked against the \
         architecture at compile time. No file I/O, no parsing and no allocation: the kernels read \
         the tensors in place, except that on x86-64 the first call in the process lays out the \
         weights of the convolutions the direct kernel or the Winograd mode runs (transposed, or as \
         filter transforms), once, into static buffers (`cnn_runtime::Packed`)."
    );
    let elf = elf();
    let blob = quote! {
        // Aligned so that every f32 tensor of the file lands on a 4-byte
        // boundary and can be read in place.
        #[repr(C, align(64))]
        struct Blob {
            _pad: [u8; #pad],
            bytes: [u8; #len],
        }
    };
    let fallback = quote! {
        static BLOB: Blob = Blob {
            _pad: [0; #pad],
            bytes: *::core::include_bytes!(#path),
        };
        let blob: &'static Blob = &BLOB;
    };
    let bytes = match symbol {
        Some(symbol) => {
            let name = format_ident!("{}", symbol);
            // Lower case: a module and a static share this identifier.
            let asm_start = format!(
                ".pushsection .rodata.{symbol},\"a\"\n.balign 64\n.globl {symbol}\n{symbol}:\n.zero {pad}\n.incbin \"{path}\"\n.popsection"
            );
            quote! {
                // `global_asm!` must sit in item position, also when the
                // model is declared inside a function.
                #[cfg(#elf)]
                #[allow(non_snake_case)]
                mod #name {
                    ::core::arch::global_asm!(#asm_start);
                }
                #[cfg(#elf)]
                let blob: &'static Blob = {
                    unsafe extern "C" {
                        #[allow(non_upper_case_globals)]
                        static #name: Blob;
                    }
                    // SAFETY: the symbol is defined just above: `pad` zero
                    // bytes then the whole file, 64-byte aligned, exactly the
                    // layout of `Blob`; it is immutable read-only data.
                    unsafe { &#name }
                };
                // Cargo rebuilds when the file changes only if rustc reads
                // it: this constant is never emitted into the binary.
                #[cfg(#elf)]
                const _: &[u8] = ::core::include_bytes!(#path);
                #[cfg(not(#elf))]
                let blob: &'static Blob = { #fallback blob };
            }
        }
        None => fallback,
    };
    quote! {
        impl #ident {
            #[doc = #doc]
            #vis fn embedded() -> Self {
                const _: () = ::core::assert!(
                    ::core::cfg!(target_endian = "little"),
                    "embedded weights are little-endian f32; this target is big-endian"
                );
                #blob
                #bytes
                <Self as ::cnn_runtime::Model>::__from_params(&mut ::cnn_runtime::__private::Embedded::new(
                    &blob.bytes,
                    &[#(#offsets),*],
                ))
            }
        }
    }
}
