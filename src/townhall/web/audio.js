// Room audio over WebRTC (docs/web.md): the browser offers, the server answers.
// A listener receives only; someone on stage also sends the microphone, asked for only then.
// Every change of place (stage <-> audience) and every failure starts a new connection.
import { ApiError, api, enc, get, post } from "./api.js";

let configPromise = null;

/** The server's public ICE servers, or null when this server has no media endpoint. */
export function mediaConfig() {
  if (!configPromise) {
    configPromise = get("/api/media/config").catch((error) => {
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) return null;
      configPromise = null; // a passing failure: ask again next time
      throw error;
    });
  }
  return configPromise;
}

function gathered(pc, ms) {
  if (pc.iceGatheringState === "complete") return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === "complete") {
        pc.removeEventListener("icegatheringstatechange", done);
        resolve();
      }
    };
    pc.addEventListener("icegatheringstatechange", done);
    setTimeout(resolve, ms);
  });
}

export class RoomAudio {
  /** onState(state): "off" | "connecting" | "live" | "blocked" (needs a tap) | "failed" | "unavailable" */
  constructor(room, onState) {
    this.room = room;
    this.onState = onState;
    this.pc = null;
    this.session = null;
    this.mic = null;
    this.sending = false;
    this.muted = true;
    this.closed = false;
    this.generation = 0;
    this.retry = 1000;
    this.element = new Audio();
    this.element.autoplay = true;
    this.state = "off";
  }

  setState(state) {
    this.state = state;
    this.onState(state);
  }

  /** Connect, sending the microphone when onStage. Safe to call again on a role change. */
  async connect(onStage) {
    if (this.closed) return;
    const config = await mediaConfig();
    if (!config) {
      this.setState("unavailable");
      return;
    }
    const generation = ++this.generation;
    this.sending = onStage;
    this.setState("connecting");
    // Asked for on every connection: the TURN credentials in it are this person's and expire.
    let servers;
    let policy;
    try {
      const roomConfig = await get(`/api/rooms/${enc(this.room)}/media/config`);
      servers = roomConfig.ice_servers || [];
      // "relay" when the operator wants every audio path through their TURN server.
      policy = roomConfig.ice_transport_policy === "relay" ? "relay" : "all";
    } catch (error) {
      if (generation !== this.generation) return;
      this.setState("failed");
      this.later(onStage);
      return;
    }
    if (generation !== this.generation || this.closed) return;
    const old = this.pc;
    const pc = new RTCPeerConnection({ iceServers: servers, iceTransportPolicy: policy });
    this.pc = pc;
    if (old) old.close();
    try {
      if (onStage) {
        if (!this.mic) {
          this.mic = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
        }
        const track = this.mic.getAudioTracks()[0];
        track.enabled = !this.muted;
        pc.addTransceiver(track, { direction: "sendrecv", streams: [this.mic] });
      } else {
        this.stopMic();
        pc.addTransceiver("audio", { direction: "recvonly" });
      }
      pc.addEventListener("track", (event) => this.play(event.streams[0] || new MediaStream([event.track])));
      const early = [];
      pc.addEventListener("icecandidate", (event) => {
        if (!event.candidate) return;
        if (this.session && generation === this.generation) this.trickle(event.candidate);
        else early.push(event.candidate);
      });
      pc.addEventListener("connectionstatechange", () => this.watch(pc, generation));
      await pc.setLocalDescription(await pc.createOffer());
      await gathered(pc, 2000);
      const answer = await post(`/api/rooms/${enc(this.room)}/media`, {
        sdp: pc.localDescription.sdp,
        type: "offer",
      });
      if (generation !== this.generation) return;
      this.session = answer.session;
      await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
      // Candidates found after the offer went out.
      const sent = pc.localDescription.sdp;
      for (const candidate of early) {
        if (!sent.includes(candidate.candidate)) this.trickle(candidate);
      }
      this.retry = 1000;
    } catch (error) {
      if (generation !== this.generation) return;
      if (error instanceof ApiError && (error.status === 404 || error.status === 405)) {
        this.setState("unavailable");
        return;
      }
      if (error && error.name === "NotAllowedError") {
        this.setState("mic_denied");
        return;
      }
      this.setState("failed");
      this.later(onStage);
    }
  }

  trickle(candidate) {
    const session = this.session;
    post(`/api/rooms/${enc(this.room)}/media/${enc(session)}/candidates`, {
      candidate: candidate.candidate,
      sdpMid: candidate.sdpMid,
      sdpMLineIndex: candidate.sdpMLineIndex,
    }).catch(() => {});
  }

  watch(pc, generation) {
    if (generation !== this.generation || this.closed) return;
    if (pc.connectionState === "connected") {
      this.setState(this.stream && this.element.paused ? "blocked" : "live");
    } else if (pc.connectionState === "failed") {
      this.setState("failed");
      this.later(this.sending);
    } else if (pc.connectionState === "disconnected") {
      // Often recovers on its own; if not, start over.
      setTimeout(() => {
        if (generation === this.generation && pc.connectionState === "disconnected") {
          this.later(this.sending, 0);
        }
      }, 4000);
    }
  }

  later(onStage, delay = this.retry) {
    if (this.closed) return;
    const generation = this.generation;
    setTimeout(() => {
      if (generation === this.generation) this.connect(onStage);
    }, delay);
    this.retry = Math.min(this.retry * 2, 15000);
  }

  play(stream) {
    this.stream = stream;
    this.element.srcObject = stream;
    window.townhallAudio = { stream, pc: this.pc };
    this.element.play().then(
      () => this.setState("live"),
      () => this.setState("blocked"),
    );
  }

  /** The one tap the browser needs before it plays sound. */
  async unblock() {
    try {
      await this.element.play();
      this.setState("live");
    } catch {
      this.setState("blocked");
    }
  }

  setMuted(muted) {
    this.muted = muted;
    const track = this.mic && this.mic.getAudioTracks()[0];
    if (track) track.enabled = !muted;
  }

  stopMic() {
    if (this.mic) for (const track of this.mic.getTracks()) track.stop();
    this.mic = null;
  }

  async close() {
    this.closed = true;
    this.generation++;
    const session = this.session;
    if (this.pc) this.pc.close();
    this.pc = null;
    this.stopMic();
    this.element.srcObject = null;
    window.townhallAudio = undefined;
    if (session) {
      await api("DELETE", `/api/rooms/${enc(this.room)}/media/${enc(session)}`).catch(() => {});
    }
  }
}
