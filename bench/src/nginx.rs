//! nginx with Debian's RTMP module (libnginx-mod-rtmp), the peer the latency benchmark runs
//! side by side: RTMP in, HLS out, tuned for its lowest latency (1 s fragments, a 3 s playlist).

use std::path::Path;
use std::process::{Child, Command, Stdio};

use sigma_event_log::testing::ReservedPort;

pub struct Nginx {
    child: Child,
    pub rtmp_port: u16,
    pub http_port: u16,
    /// The ports, held for as long as nginx runs.
    _reserved: [ReservedPort; 2],
}

impl Nginx {
    pub fn start(dir: &Path) -> Self {
        let reserved = [ReservedPort::new(), ReservedPort::new()];
        let (rtmp_port, http_port) = (reserved[0].port(), reserved[1].port());
        let hls = dir.join("hls");
        std::fs::create_dir_all(&hls).expect("the HLS dir");
        let config = format!(
            r#"load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 1024; }}
rtmp {{
    server {{
        listen 127.0.0.1:{rtmp_port};
        chunk_size 4096;
        application live {{
            live on;
            record off;
            hls on;
            hls_path {hls};
            hls_fragment 1s;
            hls_playlist_length 3s;
        }}
    }}
}}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    server {{
        listen 127.0.0.1:{http_port};
        location /hls {{
            types {{ application/vnd.apple.mpegurl m3u8; video/mp2t ts; }}
            root {dir};
            add_header Cache-Control no-cache;
            add_header Access-Control-Allow-Origin *;
        }}
    }}
}}
"#,
            dir = dir.display(),
            hls = hls.display(),
        );
        let path = dir.join("nginx.conf");
        std::fs::write(&path, config).expect("the nginx config");
        let child = Command::new("nginx")
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx is installed (make bench installs nginx-light and libnginx-mod-rtmp)");
        Self {
            child,
            rtmp_port,
            http_port,
            _reserved: reserved,
        }
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
