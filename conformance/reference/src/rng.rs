//! The scripted random generator through which the runner's random values
//! reach the `sealwire` crate's `*_with_rng` entry points.

use core::convert::Infallible;
use core::fmt;

use rand_chacha::ChaCha20Rng;
use rand_core::{SeedableRng, TryCryptoRng, TryRng};
use sealwire_adapter::OpError;
use zeroize::Zeroizing;

/// A random generator that yields scripted bytes, in order.
///
/// When an operation asks for more than was scripted, the rest comes from a
/// ChaCha20 generator with a fixed seed (so nothing panics and the run stays
/// reproducible) and the shortfall is recorded: check [`ScriptedRng::overdrawn`]
/// after the operation and report it instead of trusting the output.
pub struct ScriptedRng {
    script: Zeroizing<Vec<u8>>,
    position: usize,
    overdrawn: usize,
    fallback: ChaCha20Rng,
}

impl ScriptedRng {
    /// A generator that yields `chunks` concatenated, in order.
    pub fn new<'a>(chunks: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut script = Zeroizing::new(Vec::new());
        for chunk in chunks {
            script.extend_from_slice(chunk);
        }
        Self {
            script,
            position: 0,
            overdrawn: 0,
            fallback: ChaCha20Rng::from_seed([0x5c; 32]),
        }
    }

    /// How many bytes were drawn beyond the script (0 if it sufficed).
    pub fn overdrawn(&self) -> usize {
        self.overdrawn
    }

    /// How many scripted bytes have not been drawn.
    pub fn remaining(&self) -> usize {
        self.script.len() - self.position
    }

    /// `Err(Broken)` naming `what` if the script was overdrawn.
    pub fn check(&self, what: &str) -> Result<(), OpError> {
        if self.overdrawn == 0 {
            Ok(())
        } else {
            Err(OpError::Broken(format!(
                "rng exhausted: {what} drew {} more random bytes than the request supplied",
                self.overdrawn
            )))
        }
    }
}

impl fmt::Debug for ScriptedRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScriptedRng")
            .field("scripted", &self.script.len())
            .field("position", &self.position)
            .field("overdrawn", &self.overdrawn)
            .finish_non_exhaustive()
    }
}

impl TryRng for ScriptedRng {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.try_fill_bytes(&mut bytes)?;
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        let available = &self.script[self.position..];
        let n = available.len().min(dst.len());
        dst[..n].copy_from_slice(&available[..n]);
        self.position += n;
        let rest = &mut dst[n..];
        if !rest.is_empty() {
            self.overdrawn += rest.len();
            self.fallback.try_fill_bytes(rest)?;
        }
        Ok(())
    }
}

impl TryCryptoRng for ScriptedRng {}
