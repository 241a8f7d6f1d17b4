// Draws the book's plotly figures (geoclip_utils.plots.book_figure_html): each figure's JSON sits in a
// <script type="application/json" id="<id>-figure"> beside its container. At build time tools/book_assets.py
// replaced data shared by several figures (world polygons, plotly's template, ...) and a large figure's own
// traces by "geoclip-asset:<key>" and long repeated labels by {"geoclip-codes": [...], "values": [...]}.
// This script loads _static/geoclip/<key>.js once per page for each key (a plain <script>, so it works from
// file:// and offline), expands the labels and calls Plotly.newPlot. Checked by tools/browser_check.py.
(function () {
  "use strict";
  var PREFIX = "geoclip-asset:";
  var script = document.currentScript;
  var base = (script && script.src ? script.src.replace(/[?#].*$/, "").replace(/[^/]*$/, "") : "_static/") + "geoclip/";
  var assets = {};
  var waiting = {};

  function isRef(v) {
    return typeof v === "string" && v.indexOf(PREFIX) === 0;
  }

  function need(key, done) {
    if (Object.prototype.hasOwnProperty.call(assets, key)) {
      done();
      return;
    }
    if (waiting[key]) {
      waiting[key].push(done);
      return;
    }
    waiting[key] = [done];
    var s = document.createElement("script");
    s.src = base + key + ".js";
    s.onerror = function () {
      console.error("geoclip: figure data " + key + " could not be loaded from " + s.src);
    };
    document.head.appendChild(s);
  }

  // Called by each _static/geoclip/<key>.js file.
  window.geoclipAsset = function (key, value) {
    assets[key] = value;
    var callbacks = waiting[key] || [];
    delete waiting[key];
    callbacks.forEach(function (f) { f(); });
  };

  function slots(fig) {
    // [object, property] pairs of the figure that hold a reference or coded labels
    var out = [];
    (fig.data || []).forEach(function (trace) {
      Object.keys(trace).forEach(function (k) { out.push([trace, k]); });
    });
    if (fig.layout && "template" in fig.layout) out.push([fig.layout, "template"]);
    return out;
  }

  function expand(v) {
    if (v && typeof v === "object" && Array.isArray(v["geoclip-codes"])) {
      return v["geoclip-codes"].map(function (i) { return v.values[i]; });
    }
    return v;
  }

  function resolve(fig, done) {
    if (isRef(fig.data)) {  // the figure's own traces, in their own file
      need(fig.data.slice(PREFIX.length), function () {
        fig.data = assets[fig.data.slice(PREFIX.length)];
        resolve(fig, done);
      });
      return;
    }
    var refs = slots(fig).filter(function (r) { return isRef(r[0][r[1]]); });
    var left = refs.length;
    if (!left) {
      done();
      return;
    }
    refs.forEach(function (r) {
      var key = r[0][r[1]].slice(PREFIX.length);
      need(key, function () {
        r[0][r[1]] = assets[key];
        left -= 1;
        if (left === 0) done();
      });
    });
  }

  window.geoclipFigure = function (id) {
    var holder = document.getElementById(id + "-figure");
    if (!holder) {
      console.error("geoclip: no data for figure " + id);
      return;
    }
    var fig = JSON.parse(holder.textContent);
    resolve(fig, function () {
      slots(fig).forEach(function (r) { r[0][r[1]] = expand(r[0][r[1]]); });
      if (document.getElementById(id)) Plotly.newPlot(id, fig.data, fig.layout, fig.config);
    });
  };
})();
