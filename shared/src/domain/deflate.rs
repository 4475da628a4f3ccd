//! Raw DEFLATE on a compressor kept per thread: a new `miniz_oxide` compressor allocates and
//! zeroes about 300 KB (its window, hash chains and buffers) to deflate a 1 KB payload, and
//! freeing blocks that large made the allocator consolidate and hand memory back to the
//! system on every event. `reset` zeroes what must be zero, so the output is exactly what
//! `miniz_oxide::deflate::compress_to_vec` gives.

use std::cell::RefCell;

use miniz_oxide::deflate::core::{
    CompressorOxide, TDEFLFlush, TDEFLStatus, compress, create_comp_flags_from_zip_params,
};

thread_local! {
    /// This thread's compressor and the level it was made for.
    static COMPRESSOR: RefCell<Option<(u8, Box<CompressorOxide>)>> = const { RefCell::new(None) };
}

/// `compress_to_vec(text, level)`: raw DEFLATE (no zlib header).
pub fn deflate(text: &[u8], level: u8) -> Vec<u8> {
    COMPRESSOR.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            // Never re-entered (nothing here calls back out), but if it were: a fresh one.
            return miniz_oxide::deflate::compress_to_vec(text, level);
        };
        let compressor = match slot.as_mut() {
            Some((made_for, compressor)) if *made_for == level => {
                compressor.reset();
                compressor
            }
            _ => {
                let flags = create_comp_flags_from_zip_params(level.into(), -15, 0);
                &mut slot.insert((level, Box::new(CompressorOxide::new(flags)))).1
            }
        };
        deflate_with(compressor, text).unwrap_or_else(|| miniz_oxide::deflate::compress_to_vec(text, level))
    })
}

/// The loop of `compress_to_vec`; `None` where that one would panic.
fn deflate_with(compressor: &mut CompressorOxide, mut input: &[u8]) -> Option<Vec<u8>> {
    let mut output = vec![0; (input.len() / 2).max(2)];
    let mut out_pos = 0;
    loop {
        let (status, bytes_in, bytes_out) = compress(compressor, input, &mut output[out_pos..], TDEFLFlush::Finish);
        out_pos += bytes_out;
        match status {
            TDEFLStatus::Done => {
                output.truncate(out_pos);
                return Some(output);
            }
            TDEFLStatus::Okay if bytes_in <= input.len() => {
                input = &input[bytes_in..];
                if output.len().saturating_sub(out_pos) < 30 {
                    output.resize(output.len() * 2, 0);
                }
            }
            _ => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reused_compressor_deflates_as_a_fresh_one() {
        // GIVEN texts of several sizes and levels, deflated one after another on this thread's
        // compressor; THEN each is byte for byte what a fresh compressor gives, and inflates back
        let texts = [
            String::new(),
            "x".into(),
            serde_json::json!({"items": vec!["BEAN-ETH-250"; 150]}).to_string(),
            (0..3000u32).map(|i| char::from(b'a' + (i.wrapping_mul(7919) % 26) as u8)).collect(),
            "z".repeat(300_000),
            "short again".into(),
        ];
        for level in [6, 6, 1, 6] {
            for text in &texts {
                let reused = deflate(text.as_bytes(), level);
                assert_eq!(reused, miniz_oxide::deflate::compress_to_vec(text.as_bytes(), level), "{}", text.len());
                let back = miniz_oxide::inflate::decompress_to_vec(&reused).expect("inflates");
                assert_eq!(back, text.as_bytes());
            }
        }
    }
}
