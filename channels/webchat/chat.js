(function () {
  "use strict";
  var zh = /^zh/i.test(navigator.language || "");
  var L = zh ? {
    title: "在线客服", intro: "请留下您的称呼，我们会在这里回复您。", name: "您的称呼", email: "邮箱（可选）",
    start: "开始咨询", type: "请输入消息", send: "发送", sending: "发送中…", sent: "已发送",
    failed: "发送失败，点击重试", online: "已连接", offline: "正在重新连接…", typing: "客服正在输入…",
    isTyping: "正在输入…", you: "我", attach: "添加图片或文件", uploading: "正在上传…",
    message: "消息", seen: "已读",
    waitNext: "您是下一位，预计等待约 {m} 分钟。", waitPos: "前面还有 {n} 位，预计等待约 {m} 分钟。",
    waitNone: "客服都在忙，有空时会马上回复您。", joined: "{name} 为您服务",
    closed: "我们现在不在工作时间（{when} 恢复）。您仍可以留言，我们上班后会回复。",
    closedNoTime: "我们现在不在工作时间。您仍可以留言，我们上班后会回复。",
    contactAsk: "请留下手机号或邮箱，方便我们回复您：", contact: "手机号或邮箱", save: "保存",
    contactSaved: "已记下，我们会通过它联系您。",
    rateTitle: "这次服务您满意吗？（1 = 很不满意，5 = 非常满意）", star: "{n} 分",
    comment: "意见（可选）", rateSend: "提交评价", thanks: "感谢您的评价！",
    mayHelp: "这些文章也许能帮到您：", solvedIt: "问题已解决", stillNeed: "仍需要人工客服",
    selfServed: "很高兴帮到您！如还有问题，随时留言。", waiting: "好的，客服会尽快回复您。"
  } : {
    title: "Customer service", intro: "Tell us who you are and we will answer here.", name: "Name",
    email: "Email (optional)", start: "Start chat", type: "Type a message", send: "Send",
    sending: "Sending…", sent: "Sent", failed: "Not sent — tap to retry", online: "Connected",
    offline: "Reconnecting…", typing: "Agent is typing…", isTyping: "is typing…", you: "You",
    attach: "Attach a file", uploading: "Uploading…", message: "Message", seen: "Seen",
    waitNext: "You are next. Expected wait: about {m} min.",
    waitPos: "{n} ahead of you. Expected wait: about {m} min.",
    waitNone: "All our agents are busy; one will answer as soon as they are free.",
    joined: "{name} has joined the chat",
    closed: "We are closed right now (back {when}). Leave a message and we will answer then.",
    closedNoTime: "We are closed right now. Leave a message and we will answer when we are back.",
    contactAsk: "Leave a phone number or email so we can answer you:", contact: "Phone or email",
    save: "Save", contactSaved: "Thank you, we will answer you there.",
    rateTitle: "How did we do? (1 = poor, 5 = excellent)", star: "{n} of 5",
    comment: "Comment (optional)", rateSend: "Send rating", thanks: "Thank you for your rating!",
    mayHelp: "These may help:", solvedIt: "This solved it", stillNeed: "I still need help",
    selfServed: "Glad that helped! Write again any time.", waiting: "OK, an agent will answer you soon."
  };
  var $ = function (id) { return document.getElementById(id); };
  var fill = function (text, values) {
    return text.replace(/\{(\w+)\}/g, function (_m, k) { return String(values[k]); });
  };
  var show = function (id, on) { $(id).classList.toggle("hidden", !on); };
  document.documentElement.lang = zh ? "zh-CN" : "en";
  $("title").textContent = L.title; $("intro-text").textContent = L.intro;
  $("name").placeholder = L.name; $("name").setAttribute("aria-label", L.name);
  $("email").placeholder = L.email; $("email").setAttribute("aria-label", L.email);
  $("start").textContent = L.start;
  $("text").placeholder = L.type; $("text").setAttribute("aria-label", L.message);
  $("send").textContent = L.send; $("attach").setAttribute("aria-label", L.attach);
  $("contact").placeholder = L.contact; $("contact").setAttribute("aria-label", L.contact);
  $("contact-save").textContent = L.save;
  $("rating-title").textContent = L.rateTitle; $("rating-send").textContent = L.rateSend;
  $("rating-comment").setAttribute("aria-label", L.comment); $("rating-comment").placeholder = L.comment;
  $("rating-thanks").textContent = L.thanks;

  var ws = null, retry = 0, seen = {}, pending = {}, typingTimer = null, lastTyping = 0;
  var lastOut = 0, seenSent = 0, conversation = false, closed = false, score = 0;
  // Embedded (the widget's frame on another site) the page keeps nothing itself: the
  // browser may refuse a third-party frame both cookies and storage. The widget keeps the
  // visitor key and profile in the shop's own storage, hands them in through the URL
  // fragment (never sent to a server) and gets updates back by postMessage.
  var embedded = /[?&]embed=1(&|$)/.test(location.search) && window.parent !== window;
  var profile = null, visitorKey = null, state = null;
  if (embedded) {
    var m = /[#&]sb=([^&]*)/.exec(location.hash);
    try { state = m ? JSON.parse(decodeURIComponent(m[1])) : null; } catch (e) { state = null; }
    if (m) { history.replaceState(null, "", location.pathname + location.search); }
  } else {
    try {
      state = {key: localStorage.getItem("sb_visitor_key"),
               profile: JSON.parse(localStorage.getItem("sb_profile") || "null")};
    } catch (e) { state = null; }
  }
  if (state && typeof state === "object") {
    visitorKey = typeof state.key === "string" ? state.key : null;
    profile = state.profile && typeof state.profile.name === "string" ? state.profile : null;
  }

  function save() {
    if (embedded) {
      parent.postMessage({type: "sb:state", key: visitorKey, profile: profile}, "*");
      return;
    }
    try {
      if (visitorKey) { localStorage.setItem("sb_visitor_key", visitorKey); }
      localStorage.setItem("sb_profile", JSON.stringify(profile));
    } catch (e) { /* private mode */ }
  }

  var FILE_URL = /^\/chat\/files\/[0-9]+\?t=[A-Za-z0-9_.]+$/;

  function addFiles(el, files) {
    (files || []).forEach(function (a) {
      if (!a || typeof a.url !== "string" || !FILE_URL.test(a.url)) { return; }
      if (/^image\//.test(a.content_type)) {
        var img = document.createElement("img");
        img.src = a.url; img.alt = String(a.name || "");
        el.insertBefore(img, el.querySelector(".meta"));
      } else {
        var link = document.createElement("a");
        link.className = "file"; link.href = a.url; link.textContent = String(a.name || "file");
        link.setAttribute("download", "");
        el.insertBefore(link, el.querySelector(".meta"));
      }
    });
  }

  function bubble(id, direction, text, author, when, files) {
    var el = document.createElement("div");
    el.className = "msg " + direction;
    var body = document.createElement("div");
    body.className = "body";
    body.textContent = text;
    var meta = document.createElement("div");
    meta.className = "meta";
    meta.textContent = (author ? author + " · " : "") + (when ? new Date(when).toLocaleTimeString() : "");
    el.appendChild(body); el.appendChild(meta);
    if (!text) { body.classList.add("hidden"); }
    addFiles(el, files);
    if (id) { el.dataset.id = id; }
    $("log").appendChild(el);
    $("log").scrollTop = $("log").scrollHeight;
    return el;
  }

  function showChat() {
    $("intro").classList.add("hidden");
    ["log", "composer", "typing"].forEach(function (id) { show(id, true); });
    $("text").focus();
  }

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  function hello() { if (profile) { send({type: "hello", name: profile.name, email: profile.email || undefined}); } }

  // "Seen": only a page the visitor can see reports it, and only the newest agent message.
  function reportSeen() {
    if (lastOut > seenSent && document.visibilityState === "visible") {
      if (send({type: "seen", message_id: lastOut})) { seenSent = lastOut; }
    }
  }
  document.addEventListener("visibilitychange", reportSeen);

  function hideTyping() { clearTimeout(typingTimer); $("typing").textContent = ""; }

  function startConversation() {
    conversation = true;
    show("contact-form", closed);
  }

  function onHours(f) {
    closed = !f.open;
    if (closed) {
      var when = f.opens_at ? new Date(f.opens_at).toLocaleString() : null;
      $("offline-text").textContent = (when ? fill(L.closed, {when: when}) : L.closedNoTime) + " " + L.contactAsk;
      show("wait", false);
    }
    show("offline", closed);
    show("contact-form", closed && conversation);
  }

  function onWait(f) {
    if (closed) { return; }
    var text = f.minutes === null || f.minutes === undefined ? L.waitNone
      : f.position > 1 ? fill(L.waitPos, {n: f.position - 1, m: f.minutes }) : fill(L.waitNext, {m: f.minutes});
    $("wait").textContent = text;
    show("wait", true); show("agent", false);
  }

  function onAgent(f) {
    show("wait", false);
    if (f.name) { $("agent").textContent = fill(L.joined, {name: f.name}); show("agent", true); }
  }

  // Deflection: articles for the first message, with "this solved it" (the conversation is
  // solved as self-served) and "I still need help" (it stays with the agents).
  function onArticles(f) {
    var articles = (f.articles || []).filter(function (a) {
      return a && typeof a.url === "string" && /^\/help\/articles\/[a-z0-9-]+$/.test(a.url);
    });
    if (!articles.length || document.querySelector(".articles[data-ticket='" + String(f.ticket).replace(/[^A-Z0-9-]/g, "") + "']")) { return; }
    var opened = null;
    var box = document.createElement("div");
    box.className = "notice articles"; box.setAttribute("role", "status");
    box.dataset.ticket = String(f.ticket).replace(/[^A-Z0-9-]/g, "");
    var head = document.createElement("div"); head.textContent = L.mayHelp; box.appendChild(head);
    var list = document.createElement("ul");
    articles.forEach(function (a) {
      var li = document.createElement("li"), link = document.createElement("a");
      link.href = a.url; link.target = "_blank"; link.rel = "noopener"; link.textContent = String(a.title);
      link.addEventListener("click", function () { opened = a.slug; });
      li.appendChild(link);
      if (a.snippet) { var p = document.createElement("p"); p.textContent = String(a.snippet); li.appendChild(p); }
      list.appendChild(li);
    });
    box.appendChild(list);
    var yes = document.createElement("button"), no = document.createElement("button");
    yes.type = "button"; yes.className = "solved"; yes.textContent = L.solvedIt;
    no.type = "button"; no.className = "still"; no.textContent = L.stillNeed;
    yes.addEventListener("click", function () {
      send({type: "solved", article: opened || articles[0].slug});
      box.replaceChildren(document.createTextNode(L.selfServed));
    });
    no.addEventListener("click", function () { box.replaceChildren(document.createTextNode(L.waiting)); });
    box.appendChild(yes); box.appendChild(no);
    $("log").appendChild(box);
    $("log").scrollTop = $("log").scrollHeight;
  }

  function buildStars() {
    var box = $("stars");
    for (var n = 1; n <= 5; n++) {
      var b = document.createElement("button");
      b.type = "button"; b.textContent = String(n); b.dataset.score = String(n);
      b.setAttribute("aria-label", fill(L.star, {n: n}));
      b.addEventListener("click", function (ev) { rate(Number(ev.currentTarget.dataset.score)); });
      box.appendChild(b);
    }
  }

  function markStars() {
    Array.prototype.forEach.call($("stars").children, function (b) {
      b.classList.toggle("chosen", Number(b.dataset.score) === score);
      b.setAttribute("aria-pressed", Number(b.dataset.score) === score ? "true" : "false");
    });
  }

  function rate(n) {
    score = n; markStars();
    var comment = $("rating-comment").value.trim();
    send({type: "rating", score: n, comment: comment || undefined});
  }

  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var protocols = ["switchboard.chat"];
    if (visitorKey) { protocols.push("visitor." + visitorKey); }
    ws = new WebSocket(proto + "//" + location.host + "/chat/ws" + (embedded ? "?embed=1" : ""), protocols);
    ws.onopen = function () {
      retry = 0; $("status").textContent = L.online; hello();
      Object.keys(pending).forEach(function (cid) {
        var p = pending[cid];
        if (p.state !== "sent" && !p.upload) { send({type: "message", text: p.text, client_id: cid}); }
      });
      reportSeen();
    };
    ws.onmessage = function (ev) {
      var f; try { f = JSON.parse(ev.data); } catch (e) { return; }
      if (f.type === "visitor") {
        if (f.key !== visitorKey) { visitorKey = f.key; save(); }
      } else if (f.type === "message") {
        if (!conversation) { startConversation(); }
        if (f.client_id && pending[f.client_id]) { seen[f.id] = true; return; }
        if (seen[f.id]) { return; }
        seen[f.id] = true;
        if (f.direction === "out") { hideTyping(); lastOut = Math.max(lastOut, f.id); }
        bubble(f.id, f.direction, f.text, f.direction === "in" ? L.you : f.author, f.created_at, f.attachments);
        reportSeen();
      } else if (f.type === "ack" && f.client_id && pending[f.client_id]) {
        var p = pending[f.client_id]; p.state = "sent";
        p.el.classList.remove("failed"); p.meta.textContent = L.you + " · " + L.sent;
        if (!conversation) { startConversation(); }
      } else if (f.type === "typing") {
        $("typing").textContent = f.author ? String(f.author) + " " + L.isTyping : L.typing;
        clearTimeout(typingTimer); typingTimer = setTimeout(hideTyping, 5000);
      } else if (f.type === "hours") {
        onHours(f);
      } else if (f.type === "wait") {
        onWait(f);
      } else if (f.type === "agent") {
        onAgent(f);
      } else if (f.type === "rating_request") {
        show("rating", true); show("rating-thanks", false); show("wait", false);
      } else if (f.type === "rated") {
        score = f.score; markStars(); show("rating", true); show("rating-thanks", true);
      } else if (f.type === "articles") {
        onArticles(f);
      } else if (f.type === "contact_saved") {
        $("offline-text").textContent = L.contactSaved; show("contact-form", false);
      } else if (f.type === "error") {
        if (f.client_id && pending[f.client_id]) { markFailed(f.client_id); }
        showError(f.message);
      }
    };
    ws.onclose = function () {
      $("status").textContent = L.offline;
      retry = Math.min(retry + 1, 6);
      setTimeout(connect, 300 * Math.pow(2, retry));
    };
  }

  function showError(text) {
    $("error").textContent = String(text || "");
    setTimeout(function () { $("error").textContent = ""; }, 6000);
  }

  function markFailed(cid) {
    var p = pending[cid]; p.state = "failed";
    p.el.classList.add("failed"); p.meta.textContent = L.failed;
  }

  function newCid() { return "c" + Date.now().toString(36) + Math.random().toString(36).slice(2, 8); }

  function submit(text) {
    var cid = newCid();
    var el = bubble(null, "in", text, L.you, null);
    var meta = el.querySelector(".meta");
    meta.textContent = L.you + " · " + L.sending;
    pending[cid] = {text: text, el: el, meta: meta, state: "sending"};
    el.addEventListener("click", function () {
      if (pending[cid].state === "failed") {
        pending[cid].state = "sending"; meta.textContent = L.you + " · " + L.sending;
        send({type: "message", text: text, client_id: cid});
      }
    });
    if (!send({type: "message", text: text, client_id: cid})) { markFailed(cid); }
  }

  function upload(file) {
    var cid = newCid();
    var el = bubble(null, "in", "", L.you, null);
    var meta = el.querySelector(".meta");
    meta.textContent = L.you + " · " + L.uploading;
    pending[cid] = {text: "", el: el, meta: meta, state: "sending", upload: true};
    var form = new FormData();
    form.append("file", file, file.name);
    form.append("client_id", cid);
    if (profile && profile.name) { form.append("name", profile.name); }
    var headers = visitorKey ? {"X-Chat-Visitor": visitorKey} : {};
    fetch("/chat/upload", {method: "POST", body: form, headers: headers, credentials: "same-origin"})
      .then(function (r) { return r.json().then(function (body) { return {ok: r.ok, body: body}; }); })
      .then(function (res) {
        if (!res.ok) {
          markFailed(cid);
          showError(res.body && res.body.error ? res.body.error.message : L.failed);
          return;
        }
        pending[cid].state = "sent"; seen[res.body.id] = true;
        meta.textContent = L.you + " · " + L.sent;
        addFiles(el, res.body.attachments);
        if (!conversation) { startConversation(); }
      })
      .catch(function () { markFailed(cid); });
  }

  $("start").addEventListener("click", function () {
    var name = $("name").value.trim();
    if (!name) { $("name").focus(); return; }
    profile = {name: name, email: $("email").value.trim() || null};
    save();
    hello(); showChat();
  });
  $("composer").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var text = $("text").value;
    if (!text.trim()) { return; }
    $("text").value = "";
    submit(text);
  });
  $("text").addEventListener("keydown", function (ev) {
    if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) { ev.preventDefault(); $("composer").requestSubmit(); }
    else if (Date.now() - lastTyping > 3000) { lastTyping = Date.now(); send({type: "typing"}); }
  });
  $("attach").addEventListener("click", function () { $("file").click(); });
  $("file").addEventListener("change", function () {
    var file = $("file").files[0];
    $("file").value = "";
    if (file) { upload(file); }
  });
  $("contact-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    var value = $("contact").value.trim();
    if (value) { send({type: "contact", value: value}); }
  });
  $("rating-send").addEventListener("click", function () { if (score) { rate(score); } });
  buildStars();
  if (profile) { showChat(); }
  connect();
})();
