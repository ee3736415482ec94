/* The evaluation dashboard's charts: ECharts (SVG) drawn from the page's JSON block
   (#evaluation-charts: {charts: {by: {kind, labels, names, series: [{name, type, percent, values, urls, notes}]}}, texts}).
   Every bar and point opens the drill page of its figure (series.urls). Names of zones and people
   reach the page only as chart text or through encodeHTML in the tooltips, never as raw HTML.
   The tables under the charts say the same; without JS they are what the page shows. */
(function () {
  "use strict";

  var form = document.getElementById("evaluation-controls");
  if (form) {   // choosing days empties the month (a month, when given, wins over the days)
    ["from", "to"].forEach(function (name) {
      form.elements[name].addEventListener("input", function () { form.elements.month.value = ""; });
    });
  }

  var block = document.getElementById("evaluation-charts");
  if (!block || !window.echarts) { return; }
  var data = JSON.parse(block.textContent);
  var esc = window.echarts.format.encodeHTML;
  var BRAND = "#b3261e", COLORS = ["#64748b", "#1d4ed8", BRAND, "#15803d"];
  var drawn = [];

  function valueText(series, index) {
    var v = series.values[index];
    return v === null || v === undefined ? "—" : v + (series.percent ? "%" : "");
  }

  function tooltip(chart) {
    return function (params) {
      var list = Array.isArray(params) ? params : [params];
      if (!list.length) { return ""; }
      var first = list[0], name = chart.names ? chart.names[first.dataIndex] : first.name;
      return esc(String(name)) + list.map(function (p) {
        var s = chart.series[p.seriesIndex], note = s.notes ? s.notes[p.dataIndex] : null;
        return "<br>" + p.marker + esc(s.name) + ": " + esc(valueText(s, p.dataIndex)) +
          (note ? " (" + esc(note) + ")" : "");
      }).join("");
    };
  }

  function trendOption(chart) {
    return {
      animation: false, color: COLORS,
      tooltip: {trigger: "axis", confine: true, formatter: tooltip(chart)},
      legend: {top: 0, type: "scroll"},
      grid: {left: 8, right: 8, top: 56, bottom: 8, containLabel: true},
      xAxis: {type: "category", data: chart.labels},
      yAxis: [{type: "value", minInterval: 1},
               {type: "value", min: 0, max: 100, axisLabel: {formatter: "{value}%"}, splitLine: {show: false}}],
      series: chart.series.map(function (s) {
        return {name: s.name, type: s.type, yAxisIndex: s.percent ? 1 : 0, data: s.values, connectNulls: true,
                symbolSize: 10, barMaxWidth: 18, cursor: "pointer"};
      })
    };
  }

  function barsOption(chart) {   // a ranking or a breakdown: the first row on top
    var s = chart.series[0];
    return {
      animation: false,
      tooltip: {trigger: "item", confine: true, formatter: tooltip(chart)},
      grid: {left: 8, right: 56, top: 8, bottom: 8, containLabel: true},
      xAxis: s.percent ? {type: "value", min: 0, max: 100, axisLabel: {show: false}}   // each bar says its value
                       : {type: "value", minInterval: 1, axisLabel: {show: false}},
      yAxis: {type: "category", inverse: true, data: chart.labels, triggerEvent: true,   // a row's name taps too
              axisLabel: {width: 130, overflow: "truncate"}},
      series: [{name: s.name, type: "bar", data: s.values, barMaxWidth: 22, barMinHeight: 8, cursor: "pointer",
                itemStyle: {color: s.percent ? BRAND : COLORS[1]},
                label: {show: true, position: "right", formatter: s.percent ? "{c}%" : "{c}"}}]
    };
  }

  document.querySelectorAll("[data-chart]").forEach(function (el) {
    var chart = data.charts[el.getAttribute("data-chart")];
    if (!chart || !chart.labels.length) {
      el.textContent = data.texts.noData;
      el.classList.add("empty");
      return;
    }
    if (chart.kind !== "trend") { el.style.height = Math.max(140, chart.labels.length * 34 + 48) + "px"; }
    var instance = window.echarts.init(el, null, {renderer: "svg"});
    instance.setOption(chart.kind === "trend" ? trendOption(chart) : barsOption(chart));
    instance.on("click", function (p) {
      var url = p.componentType === "yAxis" ? chart.series[0].urls[chart.labels.indexOf(p.value)]
        : p.componentType === "series" ? chart.series[p.seriesIndex].urls[p.dataIndex] : null;
      if (url) { window.location.assign(url); }
    });
    el.setAttribute("data-drawn", "1");
    var table = el.parentNode.querySelector("details.chart-table");
    if (table) { table.open = false; }   // drawn: the table folds under its chart
    drawn.push(instance);
  });
  window.addEventListener("resize", function () { drawn.forEach(function (c) { c.resize(); }); });
}());
