// The live wall (web/templates/wall/wall.html): keeps a websocket to the server and puts each snapshot it
// sends in #wall-live. The server renders the snapshot (escaped by Jinja); this file only swaps
// it in, reconnects after any drop (each connect brings a full snapshot), and plays the lucky
// draw when a new one arrives.

const RETRY_MS = [500, 1000, 2000, 4000, 5000];
const SEEN_KEPT = 1000; // op ids remembered with when they first showed (for bench/wall_latency.py)
const SPIN_MS = 2400;
const SPIN_STEP_MS = 70;
const REVEAL_STEP_MS = 700;

const screen = document.getElementById("wall");
const stage = document.getElementById("draw-stage");
const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

// What the page or the last snapshot showed: a later draw is news and is played.
let shownDraw = Number(document.getElementById("latest-draw")?.dataset.draw ?? 0);
let attempt = 0;
let socket = null;
let retry = null;
const seenAt = new Map();
// For tests and the latency benchmark: when each feed entry first appeared, and how many snapshots came.
window.poppassWall = { seenAt, snapshots: 0 };

function remember(live) {
  const now = Date.now();
  for (const item of live.querySelectorAll("[data-op]")) {
    if (!seenAt.has(item.dataset.op)) seenAt.set(item.dataset.op, now);
  }
  while (seenAt.size > SEEN_KEPT) seenAt.delete(seenAt.keys().next().value);
}

function show(html) {
  const live = document.getElementById("wall-live");
  if (!live) return;
  const fresh = document.createElement("template");
  fresh.innerHTML = html;
  live.replaceChildren(fresh.content);
  remember(live);
  window.poppassWall.snapshots += 1;
  const draw = document.getElementById("latest-draw");
  const drawId = Number(draw?.dataset.draw ?? 0);
  if (drawId > shownDraw) {
    shownDraw = drawId;
    play(draw);
  }
}

function setState(state) {
  // The htmx swap of a refused draw form replaces #wall: look it up each time.
  const current = document.getElementById("wall");
  if (current) current.dataset.state = state;
}

function connect() {
  const path = screen.dataset.socket;
  socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}${path}`);
  socket.addEventListener("open", () => {
    attempt = 0;
    setState("live");
  });
  socket.addEventListener("message", (message) => {
    const { html } = JSON.parse(message.data);
    show(html);
  });
  socket.addEventListener("close", (closed) => {
    socket = null;
    setState("reconnecting");
    if (closed.code === 4401 || closed.code === 4403 || closed.code === 4404) {
      // Signed out, or no longer a member who may see this event: the page says which.
      location.reload();
      return;
    }
    retry = setTimeout(connect, RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]);
  });
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

// The reveal: a shuffle through the entrants' masked names, then each winner, large. The
// winners are the server's own rendering (#winners li, escaped by Jinja), cloned, not rebuilt.
// With prefers-reduced-motion the shuffle and the one-by-one arrival are skipped.
async function play(draw) {
  const winners = [...draw.querySelectorAll("#winners li")];
  const sample = JSON.parse(draw.dataset.sample || "[]");
  const spinner = document.getElementById("draw-spinner");
  const list = document.getElementById("draw-winners-shown");
  list.replaceChildren();
  stage.hidden = false;
  stage.dataset.draw = draw.dataset.draw;
  stage.dataset.count = winners.length > 3 ? "many" : "few";
  stage.dataset.phase = "spinning";
  if (!reducedMotion && sample.length) {
    for (let t = 0; t < SPIN_MS; t += SPIN_STEP_MS) {
      spinner.textContent = sample[Math.floor(Math.random() * sample.length)];
      await sleep(SPIN_STEP_MS);
    }
  }
  spinner.textContent = "";
  for (const winner of winners) {
    list.append(winner.cloneNode(true));
    if (!reducedMotion) await sleep(REVEAL_STEP_MS);
  }
  stage.dataset.phase = "done";
}

document.getElementById("draw-close").addEventListener("click", () => (stage.hidden = true));
document.addEventListener("keydown", (key) => {
  if (key.key === "Escape") stage.hidden = true;
});

const fullscreen = document.getElementById("fullscreen");
if (document.fullscreenEnabled) {
  fullscreen.hidden = false;
  fullscreen.addEventListener("click", () => {
    if (document.fullscreenElement) document.exitFullscreen();
    else document.documentElement.requestFullscreen();
  });
}

// A laptop back on the network reconnects at once rather than at its next retry.
window.addEventListener("online", () => {
  if (socket) return;
  clearTimeout(retry);
  connect();
});

remember(document.getElementById("wall-live"));
connect();
