// settings_text.js - (being written)
