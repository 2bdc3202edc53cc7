// The supervisor's metrics charts (ECharts, vendored): one horizontal bar a row of the table
// for each of 三率 and the median times, from the very figures the table shows, which the page
// embeds as JSON in #metrics-chart-data. The table stays the accessible fallback; each chart's
// container carries role="img" and an aria-label from the page. A static file, not an inline
// script, so that a Content-Security-Policy without 'unsafe-inline' still lets it run.
(function () {
  "use strict";
  var source = document.getElementById("metrics-chart-data");
  if (!source || !window.echarts) return;
  var figures = JSON.parse(source.textContent);
  var BAR = 12;  // px a bar; a row of the table has one bar a series
  var COLOURS = ["#0b5cad", "#1d6b35", "#b35900"];  // 3:1 or more on white (WCAG 1.4.11)
  var drawn = [];

  function option(chart, percent, font) {
    var unit = percent ? "%" : " h";
    return {
      animation: false,
      color: COLOURS,
      textStyle: { fontFamily: font, color: "#1d2329" },
      grid: { left: 8, right: 24, top: 36, bottom: 32, containLabel: true },
      legend: { top: 0, type: "scroll" },  // one line, also at 390 px
      tooltip: {
        trigger: "axis",
        axisPointer: { type: "shadow" },
        valueFormatter: function (v) { return v == null ? "—" : v + unit; },
      },
      xAxis: { type: "value", name: chart.axis, nameLocation: "middle", nameGap: 24,
               min: 0, max: percent ? 100 : null },
      yAxis: { type: "category", inverse: true, data: figures.groups },
      series: chart.series.map(function (s) {
        return { name: s.name, type: "bar", data: s.data, barMaxWidth: BAR * 2 };
      }),
    };
  }

  Object.keys(figures.charts).forEach(function (name) {
    var el = document.getElementById("chart-" + name);
    if (!el) return;
    var chart = figures.charts[name];
    var rows = figures.groups.length * chart.series.length;
    el.style.height = Math.max(240, 96 + rows * (BAR + 4)) + "px";
    var drawing = window.echarts.init(el, null, { renderer: "svg", locale: figures.locale });
    drawing.setOption(option(chart, name === "rates", getComputedStyle(el).fontFamily));
    drawn.push(drawing);
  });
  window.addEventListener("resize", function () {
    drawn.forEach(function (d) { d.resize(); });
  });
})();
