"""The emulator's stand-in for the XGBoost container's own package (not on any index)."""
