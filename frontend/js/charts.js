// ECharts (vendored from the npm package, see frontend/vendor/README.md), loaded only by the pages that draw charts.
let loading = null;

export function loadECharts() {
  if (window.echarts) return Promise.resolve(window.echarts);
  loading ||= new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = "vendor/echarts/echarts.min.js";
    script.async = true;
    script.onload = () => resolve(window.echarts);
    script.onerror = () => reject(new Error("The chart library could not be loaded."));
    document.head.append(script);
  });
  return loading;
}

const charts = new Set();
let resizeBound = false;

export const PALETTE = ["#2f5bea", "#e8743b", "#19a979", "#945ecf", "#ed4a7b", "#13a4b4", "#d4a017", "#6c8893", "#525df4", "#bf399e"];

// Draw an option into a container; returns the chart instance. The container carries data-points for tests.
export async function chart(container, option, points) {
  const echarts = await loadECharts();
  const instance = echarts.init(container, null, { renderer: "canvas" });
  instance.setOption({ color: PALETTE, animation: false, textStyle: { fontFamily: "inherit" }, ...option });
  container.dataset.points = String(points ?? 0);
  container.dataset.drawn = "true";
  charts.add(instance);
  if (!resizeBound) {
    resizeBound = true;
    window.addEventListener("resize", () => charts.forEach((c) => c.resize()));
  }
  return instance;
}

export function disposeCharts() {
  charts.forEach((c) => c.dispose());
  charts.clear();
}
