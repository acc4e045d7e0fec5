use cpal::traits::{DeviceTrait, HostTrait, StreamTrait};
fn main() {
    let host = cpal::default_host();
    for d in host.input_devices().unwrap() {
        println!(
            "{} | {:?} | {:?}",
            d,
            d.id(),
            d.description().map(|x| x.to_string())
        );
    }
    let dev = host
        .input_devices()
        .unwrap()
        .find(|d| d.to_string().contains("callpop") || format!("{:?}", d.id()).contains("callpop"))
        .expect("no dev");
    for c in dev.supported_input_configs().unwrap() {
        println!("{c:?}");
    }
    let cfg = cpal::StreamConfig {
        channels: 1,
        sample_rate: 8000,
        buffer_size: cpal::BufferSize::Default,
    };
    let count = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let first = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (c2, f2) = (count.clone(), first.clone());
    let s = dev
        .build_input_stream::<i16, _, _>(
            cfg,
            move |d: &[i16], _| {
                c2.fetch_add(d.len(), std::sync::atomic::Ordering::Relaxed);
                let mut f = f2.lock().unwrap();
                if f.len() < 20 {
                    f.extend_from_slice(&d[..d.len().min(20)]);
                }
            },
            |e| eprintln!("err {e}"),
            None,
        )
        .unwrap();
    s.play().unwrap();
    for _ in 0..4 {
        std::thread::sleep(std::time::Duration::from_millis(500));
        println!(
            "samples {}",
            count.load(std::sync::atomic::Ordering::Relaxed)
        );
    }
    println!("{:?}", first.lock().unwrap());
}
