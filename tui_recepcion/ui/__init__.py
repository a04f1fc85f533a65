"""The terminal interface: screens, widgets and styles. With `tui_recepcion.ui.app`, the only
code that imports Textual; everything here calls the engine, never the other way round."""
