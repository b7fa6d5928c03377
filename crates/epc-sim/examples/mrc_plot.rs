//! Miss-ratio curves of one trace as a table, CSV and plot:
//! `cargo run --release -p epc-sim --example mrc_plot -- TRACE OUT_BASE [POLICIES] [SIZES]`
//! (defaults: clock,lru,tide,clockpro,s3fifo,lirs,arc and 1,2,5,10,20,40 %).
//! Writes `OUT_BASE.csv`, `OUT_BASE.svg` and `OUT_BASE.png`.

use epc_sim::offline::{mrc, Capacity, SimPolicy, Trace};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(trace), Some(out)) = (args.first(), args.get(1)) else {
        return Err("usage: mrc_plot TRACE OUT_BASE [POLICIES] [SIZES]".into());
    };
    let policies = args
        .get(2)
        .map_or("clock,lru,tide,clockpro,s3fifo,lirs,arc", |s| s.as_str())
        .split(',')
        .map(SimPolicy::from_name)
        .collect::<Result<Vec<_>, _>>()?;
    let sizes = args
        .get(3)
        .map_or("1%,2%,5%,10%,20%,40%", |s| s.as_str())
        .split(',')
        .map(Capacity::parse)
        .collect::<Result<Vec<_>, _>>()?;
    let trace = Trace::load(trace)?;
    let table = mrc(&trace, &policies, &sizes, 0);
    print!("{}", table.to_table());
    std::fs::write(format!("{out}.csv"), table.to_csv())?;
    table.write_plot(out)?;
    Ok(())
}
