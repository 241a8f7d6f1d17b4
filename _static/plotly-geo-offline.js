// Plotly fetches world_110m.json from its CDN for any geo figure, even with an explicit GeoJSON.
// Seeding an empty topology keeps every map offline (the countries come from the figure's own GeoJSON).
window.PlotlyGeoAssets = window.PlotlyGeoAssets || {topojson: {}};
window.PlotlyGeoAssets.topojson["world_110m"] = {type: "Topology", objects: {}, arcs: []};
