//! How a client declares the routes it calls: one line per route, from a path template.

/// Declares route functions, one a line after the segment encoder:
/// `name(arg, …) => "/path/{}/…";` is `pub fn name(arg: &str, …) -> String`, each `{}` of the
/// template filled with its argument passed through the encoder (which percent-encodes a path
/// segment), in order.
macro_rules! route_paths {
    ($encode:path; $($(#[$meta:meta])* $name:ident($($arg:ident),+) => $template:literal;)*) => {
        $(
            $(#[$meta])*
            pub fn $name($($arg: &str),+) -> String {
                format!($template, $($encode($arg)),+)
            }
        )*
    };
}

pub(crate) use route_paths;
