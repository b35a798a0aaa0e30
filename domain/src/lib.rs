//! Diario Online domain (see DESIGN §3).
