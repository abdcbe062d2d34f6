//! Local FC3 + OSS + NAS emulator.
