/**
 * The page, its stylesheet and its script, bundled as strings so the viewer
 * works offline and from any build layout (no CDN, no file lookups).
 *
 * The script renders every piece of data with textContent or as SVG text,
 * never as markup; bidi controls in data (U+202A-202E, U+2066-2069) are shown
 * as `[U+202E]` so a name cannot reorder the text around it.
 */

export const indexHtml = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>meeting-artifacts view</title>
<link rel="icon" href="/favicon.svg" type="image/svg+xml">
<link rel="stylesheet" href="/assets/app.css">
<script src="/assets/app.js" defer></script>
</head>
<body>
<header class="top">
<a class="brand" href="#/">meeting-artifacts</a>
<nav>
<a href="#/" data-nav="sets">Sets</a>
<a href="#/search" data-nav="search">Search</a>
<a href="#/runs" data-nav="runs">Runs &amp; failures</a>
</nav>
</header>
<main id="main"><p class="muted">Loading…</p></main>
</body>
</html>
`

export const faviconSvg =
  `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#2f5fb3"/><path d="M5 4l7 4-7 4z" fill="#fff"/></svg>`

export const appCss = String.raw`
:root { --fg:#1d2330; --muted:#5d6678; --line:#d9dee8; --bg:#fff; --band:#f5f7fb; --accent:#2f5fb3; --hl:#fff3bf; --bad:#b3261e; }
* { box-sizing: border-box; }
body { margin:0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color:var(--fg); background:var(--bg); }
header.top { display:flex; gap:24px; align-items:center; padding:10px 20px; background:#1d2330; }
header.top a { color:#dfe6f5; text-decoration:none; }
header.top .brand { font-weight:600; color:#fff; }
header.top nav { display:flex; gap:16px; }
header.top nav a.active { color:#fff; border-bottom:2px solid #8fb1ff; }
main { padding:16px 20px 40px; max-width:1400px; }
h1 { font-size:20px; margin:4px 0 12px; }
h2 { font-size:16px; margin:20px 0 8px; }
.muted { color:var(--muted); }
.d { unicode-bidi:isolate; overflow-wrap:break-word; }
.nowrap { white-space:nowrap; }
.id { display:inline-block; max-width:30ch; overflow:hidden; text-overflow:ellipsis; white-space:nowrap; vertical-align:bottom; }
h1 .d { overflow-wrap:anywhere; }
.notice { border-left:4px solid var(--accent); background:var(--band); padding:8px 12px; margin:8px 0; }
.notice.bad { border-color:var(--bad); }
.filters { display:flex; flex-wrap:wrap; gap:8px; align-items:center; margin:8px 0 12px; }
.filters input, .filters select, .searchbox input { font:inherit; padding:5px 8px; border:1px solid var(--line); border-radius:4px; }
.filters input { min-width:280px; }
button { font:inherit; cursor:pointer; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:5px 8px; border-bottom:1px solid var(--line); vertical-align:top; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; white-space:nowrap; }
thead th { position:sticky; top:0; background:var(--band); }
thead th button { border:0; background:none; padding:0; font-weight:600; color:var(--fg); }
thead th[aria-sort] button::after { content:" \25BE"; }
thead th[aria-sort="ascending"] button::after { content:" \25B4"; }
tbody tr:nth-child(even) { background:#fafbfd; }
td a { color:var(--accent); }
.pager { display:flex; gap:12px; align-items:center; margin:12px 0; }
.pill { display:inline-block; padding:0 6px; border-radius:9px; background:var(--band); border:1px solid var(--line); font-size:12px; }
.pill.none { color:var(--bad); }
.bad { color:var(--bad); }
.meeting { display:grid; grid-template-columns:minmax(320px, 1fr) minmax(280px, 420px); gap:20px; align-items:start; }
.meeting video { width:100%; background:#000; border-radius:4px; max-height:60vh; }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:2px 12px; margin:0 0 8px; }
dl.facts dt { color:var(--muted); }
dl.facts dd { margin:0; }
ol.cues { list-style:none; margin:0; padding:0; max-height:70vh; overflow:auto; border:1px solid var(--line); border-radius:4px; }
ol.cues li { border-bottom:1px solid var(--line); }
ol.cues button { display:grid; grid-template-columns:64px 1fr; gap:2px 8px; width:100%; text-align:left; border:0; background:none; padding:6px 10px; border-left:4px solid transparent; }
ol.cues button:hover { background:var(--band); }
ol.cues li.current button { background:var(--hl); border-left-color:#e0a800; }
.cue-time { color:var(--muted); font-variant-numeric:tabular-nums; grid-row:span 2; }
.cue-speaker { font-weight:600; }
.cue-text { white-space:pre-wrap; }
svg.chart { max-width:100%; height:auto; }
svg.chart text { font-size:11px; fill:var(--fg); }
svg.chart .bar { fill:var(--accent); }
svg.chart .bar.alt { fill:#7a9be0; }
svg.chart .axis { stroke:var(--line); }
.charts { margin-bottom:16px; display:grid; grid-template-columns:repeat(auto-fill, minmax(300px, 1fr)); gap:16px; }
.chartbox { border:1px solid var(--line); border-radius:4px; padding:8px 10px; }
.chartbox h3 { margin:0 0 4px; font-size:13px; }
.searchbox { display:flex; gap:8px; margin:8px 0 12px; }
.searchbox input { flex:1; max-width:560px; }
ol.results { list-style:none; padding:0; margin:0; }
ol.results li { padding:8px 0; border-bottom:1px solid var(--line); }
ol.results a { color:var(--accent); font-weight:600; text-decoration:none; }
mark { background:#ffd43b; color:inherit; padding:0 1px; border-radius:2px; }
@media (max-width: 900px) { .meeting { grid-template-columns:1fr; } }
`

export const appJs = String.raw`"use strict";
(function () {
  var main = document.getElementById("main");
  var renderToken = 0;

  // -- building DOM from data: text only --------------------------------------------------
  var BIDI = /[\u202A-\u202E\u2066-\u2069]/g;
  function clean(s) {
    if (s === null || s === undefined) return "";
    return String(s).replace(BIDI, function (c) { return "[U+" + c.charCodeAt(0).toString(16).toUpperCase() + "]"; });
  }
  function h(tag, attrs) {
    var el = document.createElement(tag);
    if (attrs) for (var k in attrs) {
      var v = attrs[k];
      if (v === undefined || v === null || v === false) continue;
      if (k.slice(0, 2) === "on") el.addEventListener(k.slice(2), v);
      else if (k === "text") el.textContent = clean(v);
      else el.setAttribute(k, v === true ? "" : String(v));
    }
    for (var i = 2; i < arguments.length; i++) append(el, arguments[i]);
    return el;
  }
  function append(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { for (var i = 0; i < c.length; i++) append(el, c[i]); return; }
    el.appendChild(typeof c === "object" ? c : document.createTextNode(clean(c)));
  }
  function data(s) { return h("span", { "class": "d", text: s }); }
  var SVG = "http://www.w3.org/2000/svg";
  function s(tag, attrs, textValue) {
    var el = document.createElementNS(SVG, tag);
    for (var k in attrs) el.setAttribute(k, String(attrs[k]));
    if (textValue !== undefined) el.textContent = clean(textValue);
    return el;
  }

  // -- formatting ---------------------------------------------------------------------------
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function clock(ms) {
    if (ms === null || ms === undefined) return "–";
    var neg = ms < 0; var t = Math.floor(Math.abs(ms) / 1000);
    var hh = Math.floor(t / 3600), mm = Math.floor(t / 60) % 60, ss = t % 60;
    return (neg ? "-" : "") + (hh > 0 ? hh + ":" + pad(mm) : mm) + ":" + pad(ss);
  }
  function duration(ms) {
    if (ms === null || ms === undefined) return "–";
    var m = Math.round(ms / 60000);
    return m >= 60 ? Math.floor(m / 60) + " h " + (m % 60) + " min" : ms >= 60000 ? m + " min" :
      ms >= 10000 ? Math.round(ms / 1000) + " s" : (ms / 1000).toFixed(1) + " s";
  }
  function bytes(n) {
    if (n === null || n === undefined) return "–";
    var u = ["B", "KB", "MB", "GB", "TB"], i = 0, v = n;
    while (v >= 1024 && i < u.length - 1) { v /= 1024; i++; }
    return (i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)) + " " + u[i];
  }
  function usd(n) { return n === null || n === undefined ? "–" : "$" + Number(n).toFixed(n > 0 && n < 0.1 ? 4 : 2); }
  function count(n) { return n === null || n === undefined ? "–" : Number(n).toLocaleString("en-US"); }
  function date(iso) {
    if (!iso) return "–";
    var d = new Date(iso);
    return isNaN(d.getTime()) ? String(iso) : d.toISOString().slice(0, 16).replace("T", " ");
  }

  // -- data ---------------------------------------------------------------------------------
  function api(path, params) {
    var q = new URLSearchParams();
    if (params) for (var k in params) if (params[k] !== undefined && params[k] !== null && params[k] !== "") q.set(k, params[k]);
    var qs = q.toString();
    return fetch(path + (qs ? "?" + qs : ""), { headers: { accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body && body.error ? body.error : "HTTP " + r.status);
        return body;
      });
    });
  }

  // -- routing: #/path?query ------------------------------------------------------------------
  function route() {
    var hash = location.hash.replace(/^#/, "") || "/";
    var qi = hash.indexOf("?");
    return { path: qi < 0 ? hash : hash.slice(0, qi), params: new URLSearchParams(qi < 0 ? "" : hash.slice(qi + 1)) };
  }
  function hashFor(path, params) {
    var q = new URLSearchParams();
    for (var k in params) if (params[k] !== undefined && params[k] !== null && params[k] !== "") q.set(k, params[k]);
    var qs = q.toString();
    return "#" + path + (qs ? "?" + qs : "");
  }
  function replaceHash(path, params) { history.replaceState(null, "", hashFor(path, params)); render(); }
  function setPage(nav, nodes) {
    var links = document.querySelectorAll("header nav a");
    for (var i = 0; i < links.length; i++) links[i].classList.toggle("active", links[i].getAttribute("data-nav") === nav);
    main.replaceChildren();
    append(main, nodes);
  }
  function failed(err) { setPage("", [h("p", { "class": "notice bad", text: "Could not load: " + (err && err.message ? err.message : err) })]); }

  function render() {
    var token = ++renderToken;
    var r = route();
    var current = function () { return token === renderToken; };
    var page = r.path === "/set" ? setPageView : r.path === "/search" ? searchView : r.path === "/runs" ? runsView : setsView;
    page(r.params, current).catch(function (e) { if (current()) failed(e); });
  }
  window.addEventListener("hashchange", render);

  // -- all sets -------------------------------------------------------------------------------
  var COLUMNS = [
    ["date", "Date", false], ["organizer", "Organizer", false], ["meeting", "Meeting", false], ["match", "Match", false],
    ["recordingMs", "Recording", true], ["transcriptMs", "Transcript", true], ["cues", "Cues", true],
    ["bytes", "Bytes", true], ["cost", "Metered cost", true], ["failures", "Failures", true]
  ];
  var PAGE = 50;
  var filterTimer = 0;

  function setsView(params, current) {
    var state = {
      sort: params.get("sort") || "date", dir: params.get("dir") || "desc", text: params.get("text") || "",
      match: params.get("match") || "", has: params.get("has") || "", offset: Number(params.get("offset") || 0) || 0
    };
    return Promise.all([api("/api/facets"), api("/api/sets", {
      sort: state.sort, dir: state.dir, text: state.text, match: state.match, has: state.has, offset: state.offset, limit: PAGE
    })]).then(function (res) {
      if (!current()) return;
      var facets = res[0], page = res[1];
      var go = function (change) {
        var next = {}; for (var k in state) next[k] = state[k];
        for (var c in change) next[c] = change[c];
        if (next.offset === 0) delete next.offset;
        replaceHash("/", next);
      };
      var textInput = h("input", { type: "search", id: "filter-text", placeholder: "Filter by meeting, organizer or correlation id", value: state.text, "aria-label": "Filter" });
      textInput.addEventListener("input", function () {
        clearTimeout(filterTimer);
        filterTimer = setTimeout(function () { go({ text: textInput.value, offset: 0 }); }, 250);
      });
      var matchSelect = h("select", { id: "filter-match", "aria-label": "Match kind", onchange: function () { go({ match: matchSelect.value, offset: 0 }); } },
        h("option", { value: "" }, "every match kind"),
        facets.matches.map(function (m) { return h("option", { value: m.match, selected: m.match === state.match }, m.match + " (" + count(m.count) + ")"); }));
      var hasSelect = h("select", { id: "filter-has", "aria-label": "Content", onchange: function () { go({ has: hasSelect.value, offset: 0 }); } },
        [["", "any content"], ["both", "recording and transcript"], ["recordingOnly", "recording only"], ["transcriptOnly", "transcript only"]]
          .map(function (o) { return h("option", { value: o[0], selected: o[0] === state.has }, o[1]); }));
      var head = h("tr", null, COLUMNS.map(function (c) {
        var sorted = state.sort === c[0];
        return h("th", { "class": c[2] ? "num" : null, "aria-sort": sorted ? (state.dir === "asc" ? "ascending" : "descending") : null },
          h("button", { type: "button", "data-sort": c[0], onclick: function () {
            go({ sort: c[0], dir: sorted && state.dir === "desc" ? "asc" : "desc", offset: 0 });
          } }, c[1]));
      }));
      var rows = page.items.map(function (r) {
        return h("tr", null,
          h("td", { "class": "nowrap" }, date(r.date)),
          h("td", null, h("span", { "class": "d id", title: clean(r.organizerId), text: r.organizerId })),
          h("td", null, r.source === "adhocCall" ? h("span", { "class": "pill", title: "an ad hoc call (1:1, group or PSTN), not an online meeting", text: "ad hoc call" }) : null,
            h("a", { "class": "d id", title: clean(r.meetingId), href: hashFor("/set", { key: r.key }) }, clean(r.meetingId))),
          h("td", null, h("span", { "class": "pill" + (r.match === "none" ? " none" : ""), text: r.match })),
          h("td", { "class": "num" }, duration(r.recordingMs)),
          h("td", { "class": "num" }, duration(r.transcriptMs)),
          h("td", { "class": "num" }, count(r.cues)),
          h("td", { "class": "num" }, bytes(r.bytes)),
          h("td", { "class": "num" }, usd(r.cost)),
          h("td", { "class": "num" + (r.failures > 0 ? " bad" : "") }, count(r.failures)));
      });
      var from = page.total === 0 ? 0 : state.offset + 1, to = Math.min(page.total, state.offset + page.items.length);
      var pager = h("div", { "class": "pager" },
        h("button", { type: "button", id: "prev", disabled: state.offset <= 0, onclick: function () { go({ offset: Math.max(0, state.offset - PAGE) }); } }, "← Previous"),
        h("span", { id: "range" }, count(from) + "–" + count(to) + " of " + count(page.total)),
        h("button", { type: "button", id: "next", disabled: to >= page.total, onclick: function () { go({ offset: state.offset + PAGE }); } }, "Next →"));
      setPage("sets", [
        h("h1", null, "Sets"),
        h("p", { "class": "muted" }, count(facets.total) + " sets from " + count(facets.organizers) + " organizers, " + count(facets.cues) + " transcript cues"),
        h("div", { "class": "filters" }, textInput, matchSelect, hasSelect),
        h("table", { id: "sets" }, h("thead", null, head), h("tbody", null, rows)),
        rows.length === 0 ? h("p", { "class": "muted" }, "No set matches these filters.") : null,
        pager
      ]);
      if (state.text && document.activeElement !== textInput && textInput.value) {
        textInput.focus(); textInput.setSelectionRange(textInput.value.length, textInput.value.length);
      }
    });
  }

  // -- one meeting ----------------------------------------------------------------------------
  function talkTime(cues) {
    var by = {}, order = [];
    cues.forEach(function (c) {
      var who = c.speaker === null ? "(no speaker)" : c.speaker;
      if (!(who in by)) { by[who] = 0; order.push(who); }
      by[who] += Math.max(0, c.endMs - c.startMs);
    });
    return order.map(function (w) { return { speaker: w, ms: by[w] }; }).sort(function (a, b) { return b.ms - a.ms; });
  }
  function talkChart(cues) {
    var rows = talkTime(cues).slice(0, 12);
    var total = rows.reduce(function (n, r) { return n + r.ms; }, 0) || 1;
    var max = rows.length ? rows[0].ms || 1 : 1;
    var W = 440, labelW = 150, barH = 18, gap = 6, H = rows.length * (barH + gap) + 4;
    var svg = s("svg", { "class": "chart", id: "talk-time", viewBox: "0 0 " + W + " " + H, width: W, height: H, role: "img", "aria-label": "Talk time per speaker" });
    rows.forEach(function (r, i) {
      var y = i * (barH + gap) + 2, w = Math.max(1, (W - labelW - 100) * r.ms / max);
      var name = r.speaker.length > 22 ? r.speaker.slice(0, 21) + "…" : r.speaker;
      svg.appendChild(s("text", { x: labelW - 6, y: y + barH - 5, "text-anchor": "end" }, name));
      var bar = s("rect", { "class": "bar", x: labelW, y: y, width: w, height: barH, rx: 2 });
      bar.appendChild(s("title", {}, r.speaker + ": " + clock(r.ms)));
      svg.appendChild(bar);
      svg.appendChild(s("text", { x: labelW + w + 6, y: y + barH - 5 }, clock(r.ms) + " · " + Math.round(100 * r.ms / total) + "%"));
    });
    return svg;
  }
  function failureTable(list) {
    return h("table", { "class": "failures" },
      h("thead", null, h("tr", null, ["Kind", "Id", "Meeting", "Organizer", "Reason", "Status", "Code", "Request id", "At"].map(function (t) { return h("th", null, t); }))),
      h("tbody", null, list.map(function (f) {
        return h("tr", null, h("td", null, data(f.kind)), h("td", null, data(f.id)), h("td", null, data(f.meetingId)), h("td", null, data(f.organizerId)),
          h("td", null, data(f.reason)), h("td", { "class": "num" }, f.status === null ? "–" : String(f.status)), h("td", null, data(f.code)),
          h("td", null, h("code", null, data(f.requestId))), h("td", { "class": "nowrap" }, date(f.at)));
      })));
  }

  // Text with every word that starts with one of words in <mark> (as text nodes, never markup).
  function marked(text, words) {
    var span = h("span", { "class": "d" });
    if (words.length === 0) { span.textContent = clean(text); return span; }
    var lower = text.toLowerCase(), at = 0;
    var re = /[\p{L}\p{N}]+/gu, m;
    while ((m = re.exec(text)) !== null) {
      var w = lower.slice(m.index, m.index + m[0].length);
      if (!words.some(function (q) { return w.indexOf(q) === 0; })) continue;
      append(span, text.slice(at, m.index));
      span.appendChild(h("mark", { text: m[0] }));
      at = m.index + m[0].length;
    }
    append(span, text.slice(at));
    return span;
  }

  function setPageView(params, current) {
    var key = params.get("key") || "";
    var startAt = params.get("t");
    // From a search: its words are marked in the cues.
    var words = (params.get("q") || "").toLowerCase().split(/\s+/).filter(function (w) { return w.length > 0; });
    return api("/api/set", { key: key }).then(function (set) {
      if (!current()) return;
      var e = set.entry, offset = set.offsetMs;
      var video = null;
      var qs = "?key=" + encodeURIComponent(key);
      if (e.recording) {
        video = h("video", { id: "player", controls: true, preload: "metadata", src: "/media/recording" + qs });
        if (e.transcript) video.appendChild(h("track", { kind: "captions", label: "Transcript", srclang: "en", src: "/media/transcript.vtt" + qs, "default": true }));
      }
      var items = set.cueList.map(function (c, i) {
        var at = c.startMs + offset;
        return h("li", { "data-index": i, "data-start": at },
          h("button", { type: "button", title: "Jump to " + clock(at), onclick: function () { seek(i); } },
            h("span", { "class": "cue-time" }, clock(at)),
            h("span", { "class": "cue-speaker" }, data(c.speaker === null ? "" : c.speaker)),
            h("span", { "class": "cue-text" }, marked(c.text, words))));
      });
      var list = h("ol", { "class": "cues", id: "cues" }, items);
      var currentIndex = -1;
      function highlight(i, scroll) {
        if (i === currentIndex) return;
        if (currentIndex >= 0 && items[currentIndex]) { items[currentIndex].classList.remove("current"); items[currentIndex].removeAttribute("aria-current"); }
        currentIndex = i;
        if (i >= 0 && items[i]) {
          items[i].classList.add("current"); items[i].setAttribute("aria-current", "true");
          if (scroll === "page") items[i].scrollIntoView({ block: "center" });
          else if (scroll) {
            var li = items[i], top = li.offsetTop - list.offsetTop;
            if (top < list.scrollTop || top + li.offsetHeight > list.scrollTop + list.clientHeight) list.scrollTop = Math.max(0, top - list.clientHeight / 3);
          }
        }
      }
      // The cue being said at t: the last one that started at or before t and has not ended.
      function cueAt(ms) {
        var lo = 0, hi = set.cueList.length - 1, found = -1;
        while (lo <= hi) { var mid = (lo + hi) >> 1; if (set.cueList[mid].startMs + offset <= ms) { found = mid; lo = mid + 1; } else hi = mid - 1; }
        for (var i = found; i >= 0 && i > found - 8; i--) if (set.cueList[i].endMs + offset > ms) return i;
        return -1;
      }
      function seek(i) {
        var at = Math.max(0, set.cueList[i].startMs + offset);
        highlight(i, false);
        if (video) { video.currentTime = at / 1000; }
      }
      if (video) {
        video.addEventListener("error", function () {
          if (!document.getElementById("video-error")) {
            video.insertAdjacentElement("afterend", h("p", { "class": "notice bad", id: "video-error" },
              "The recording cannot be played here: its file is missing, outside the export, or in a format this browser does not play."));
          }
        });
        video.addEventListener("timeupdate", function () { highlight(cueAt(video.currentTime * 1000), true); });
        video.addEventListener("seeked", function () { highlight(cueAt(video.currentTime * 1000), true); });
        if (startAt !== null) {
          video.addEventListener("loadedmetadata", function () { video.currentTime = Math.max(0, Number(startAt) + offset) / 1000; }, { once: true });
        }
      }
      var notices = [];
      if (!e.recording) notices.push(h("p", { "class": "notice", id: "no-recording" }, "Transcript only: this export has no recording for this meeting. Times are the transcript's own."));
      if (!e.transcript) notices.push(h("p", { "class": "notice", id: "no-transcript" }, "Recording only: this export has no transcript for this meeting."));
      if (set.transcriptIssue) notices.push(h("p", { "class": "notice bad" }, "Transcript: ", data(set.transcriptIssue)));
      var facts = h("dl", { "class": "facts" },
        h("dt", null, "Organizer"), h("dd", null, data(e.organizerId)),
        h("dt", null, "Match"), h("dd", null, h("span", { "class": "pill" + (e.match === "none" ? " none" : ""), text: e.match })),
        h("dt", null, "Correlation id"), h("dd", null, data(e.contentCorrelationId === null ? "–" : e.contentCorrelationId)),
        h("dt", null, "Date"), h("dd", null, date(set.date)),
        h("dt", null, "Recording"), h("dd", null, e.recording ? duration(set.recordingMs) + " · " + bytes(e.recording.bytes) : "–"),
        h("dt", null, "Transcript"), h("dd", null, e.transcript ? duration(set.transcriptMs) + " · " + count(set.cueList.length) + (set.cueList.length === 1 ? " cue" : " cues") : "–"),
        h("dt", null, "Metered cost"), h("dd", null, usd(set.cost)));
      var left = h("section", null, video, notices, h("h2", null, "Talk time"),
        set.cueList.length ? talkChart(set.cueList) : h("p", { "class": "muted" }, "No cues."),
        set.failureList.length ? [h("h2", null, "Failures"), failureTable(set.failureList)] : null);
      var right = h("section", null, facts, h("h2", null, "Transcript"), set.cueList.length ? list : h("p", { "class": "muted" }, "No transcript cues."));
      setPage("sets", [h("p", null, h("a", { href: "#/" }, "← All sets")), h("h1", null, set.source === "adhocCall" ? "Ad hoc call " : "Meeting ", data(e.meetingId)), h("div", { "class": "meeting" }, left, right)]);
      if (startAt !== null) {
        var i = cueAt(Number(startAt) + offset);
        if (i < 0) i = cueAt(Number(startAt) + offset + 1);
        if (i >= 0) highlight(i, "page");
      }
    });
  }

  // -- search ---------------------------------------------------------------------------------
  var searchTimer = 0;
  function snippet(text) {
    var out = [], mark = false, buf = "";
    for (var i = 0; i < text.length; i++) {
      var c = text[i];
      if (c === "\uE000" || c === "\uE001") {
        if (buf) out.push(mark ? h("mark", { text: buf }) : clean(buf));
        buf = ""; mark = c === "\uE000";
      } else buf += c;
    }
    if (buf) out.push(mark ? h("mark", { text: buf }) : clean(buf));
    return h("span", { "class": "d cue-text" }, out);
  }
  function searchView(params, current) {
    var q = params.get("q") || "";
    var input = h("input", { type: "search", id: "search-input", placeholder: "Search every transcript", value: q, "aria-label": "Search" });
    input.addEventListener("input", function () {
      clearTimeout(searchTimer);
      searchTimer = setTimeout(function () { replaceHash("/search", { q: input.value }); }, 200);
    });
    var results = h("ol", { "class": "results", id: "results" });
    var status = h("p", { "class": "muted", id: "search-status" });
    var more = h("button", { type: "button", id: "more", hidden: true }, "More results");
    setPage("search", [h("h1", null, "Search transcripts"), h("div", { "class": "searchbox" }, input), status, results, more]);
    input.focus(); input.setSelectionRange(q.length, q.length);
    if (!q.trim()) { status.textContent = "Words to look for, in any transcript; the last word may be the start of a word."; return Promise.resolve(); }
    var offset = 0;
    function load() {
      return api("/api/search", { q: q, offset: offset, limit: 50 }).then(function (res) {
        if (!current()) return;
        status.textContent = res.total === 0 ? "No cue matches." : (res.more && res.total >= 1000 ? "1,000+" : count(res.total)) + " matching cues";
        res.items.forEach(function (r) {
          var at = r.startMs + (r.offsetMs || 0);
          results.appendChild(h("li", null,
            h("a", { href: hashFor("/set", { key: r.key, t: r.startMs, q: q }) }, data(r.meetingId), " at " + clock(at)),
            h("span", { "class": "muted" }, " · ", data(r.speaker === null ? "" : r.speaker), " · organizer ", data(r.organizerId)),
            h("div", null, snippet(r.snippet))));
        });
        offset += res.items.length;
        more.hidden = !res.more;
      });
    }
    more.onclick = function () { load().catch(failed); };
    return load();
  }

  // -- runs and failures ---------------------------------------------------------------------
  var METRICS = [
    ["Duration", function (r) { return r.durationMs; }, duration],
    ["Bytes downloaded", function (r) { return r.counts.bytes; }, bytes],
    ["Requests", function (r) { return r.counts.requests; }, count],
    ["429s (throttled)", function (r) { return r.counts.throttled; }, count],
    ["Retries", function (r) { return r.counts.retries; }, count],
    ["Metered cost", function (r) { return r.counts.meteredCostUsd; }, usd]
  ];
  function runChart(runs, metric) {
    var W = 300, H = 90, pad = 4, n = runs.length;
    var values = runs.map(function (r) { var v = metric[1](r); return typeof v === "number" && isFinite(v) ? v : null; });
    var known = values.filter(function (v) { return v !== null; });
    var max = known.length ? Math.max.apply(null, known) || 1 : 1;
    var bw = Math.max(2, Math.min(24, (W - 2 * pad) / Math.max(1, n) - 2));
    var svg = s("svg", { "class": "chart", viewBox: "0 0 " + W + " " + (H + 14), width: "100%", role: "img", "aria-label": metric[0] + " per run" });
    svg.appendChild(s("line", { "class": "axis", x1: 0, y1: H, x2: W, y2: H }));
    values.forEach(function (v, i) {
      var x = pad + i * (bw + 2), hgt = v === null ? 0 : Math.max(1, (H - 4) * v / max);
      var bar = s("rect", { "class": "bar" + (i % 2 ? " alt" : ""), x: x, y: H - hgt, width: bw, height: hgt });
      bar.appendChild(s("title", {}, runs[i].startedAt + ": " + (v === null ? "not recorded" : metric[2](v))));
      svg.appendChild(bar);
    });
    svg.appendChild(s("text", { x: 0, y: H + 12 }, "max " + (known.length ? metric[2](max) : "–")));
    svg.appendChild(s("text", { x: W, y: H + 12, "text-anchor": "end" }, "last " + (values[n - 1] === null || n === 0 ? "–" : metric[2](values[n - 1]))));
    return svg;
  }
  function runsView(params, current) {
    return api("/api/runs").then(function (res) {
      if (!current()) return;
      var runs = res.runs.slice(-60);
      var charts = runs.length ? h("div", { "class": "charts", id: "run-charts" }, METRICS.map(function (m) {
        return h("div", { "class": "chartbox" }, h("h3", null, m[0]), runChart(runs, m));
      })) : h("p", { "class": "muted" }, "No runs recorded in this export's state store.");
      var table = h("table", { id: "runs" },
        h("thead", null, h("tr", null, ["Started", "Status", "Duration", "Sets", "Downloaded", "Failures", "Bytes", "Requests", "429s", "Retries", "Metered cost"]
          .map(function (t, i) { return h("th", { "class": i >= 2 ? "num" : null }, t); }))),
        h("tbody", null, res.runs.slice().reverse().map(function (r) {
          var c = r.counts;
          return h("tr", null, h("td", { "class": "nowrap" }, date(r.startedAt)), h("td", null, h("span", { "class": "pill" + (r.status === "succeeded" ? "" : " none"), text: r.status })),
            h("td", { "class": "num" }, duration(r.durationMs)), h("td", { "class": "num" }, count(c.sets)),
            h("td", { "class": "num" }, count((c.recordingsDownloaded || 0) + (c.transcriptsDownloaded || 0))),
            h("td", { "class": "num" + (c.failures > 0 ? " bad" : "") }, count(c.failures)), h("td", { "class": "num" }, bytes(c.bytes)),
            h("td", { "class": "num" }, count(c.requests)), h("td", { "class": "num" }, count(c.throttled)), h("td", { "class": "num" }, count(c.retries)),
            h("td", { "class": "num" }, usd(c.meteredCostUsd)));
        })));
      setPage("runs", [
        h("h1", null, "Runs"), charts, res.runs.length ? table : null,
        h("h2", null, "Failures (failures.jsonl)"),
        res.failures.length ? failureTable(res.failures) : h("p", { "class": "muted", id: "no-failures" }, "No failures: every item of the last runs was exported.")
      ]);
    });
  }

  render();
})();
`
