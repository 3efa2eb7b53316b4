// Installed first (a classic script) so that every uncaught error, unhandled rejection and
// console line of the page, the shim's and the module's alike, is kept for the test harness:
// window.__shimRecorder.errors / .console. The shim adds errors Foundry's Hooks swallow.
(function () {
  "use strict";
  var recorder = { errors: [], console: [] };
  window.__shimRecorder = recorder;

  function describe(value) {
    if (value instanceof Error) return value.stack || (value.name + ": " + value.message);
    if (typeof value === "string") return value;
    try {
      var json = JSON.stringify(value);
      return json === undefined ? String(value) : json;
    } catch (e) {
      return String(value);
    }
  }

  window.addEventListener("error", function (event) {
    recorder.errors.push({
      source: "window.onerror",
      message: String(event.message),
      location: (event.filename || "") + ":" + (event.lineno || 0) + ":" + (event.colno || 0),
      stack: event.error && event.error.stack ? String(event.error.stack) : null
    });
  });

  window.addEventListener("unhandledrejection", function (event) {
    var reason = event.reason;
    recorder.errors.push({
      source: "unhandledrejection",
      message: reason instanceof Error ? reason.message : describe(reason),
      location: null,
      stack: reason instanceof Error ? String(reason.stack) : null
    });
  });

  ["debug", "log", "info", "warn", "error"].forEach(function (level) {
    var original = console[level].bind(console);
    console[level] = function () {
      var parts = [];
      for (var i = 0; i < arguments.length; i++) parts.push(describe(arguments[i]));
      recorder.console.push({ level: level, text: parts.join(" "), time: Date.now() });
      return original.apply(null, arguments);
    };
  });
})();
