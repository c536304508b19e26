"""Load-test engine: closed and open loop on aiohttp, HDR histograms."""
