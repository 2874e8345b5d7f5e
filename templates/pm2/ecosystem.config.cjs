// pm2 process file for {{app}}, deployed by ship to {{deployTo}}.
//
// Once per host (as the deploy user):  pm2 start ecosystem.config.cjs && pm2 save
// (and `pm2 startup` for reboots). Stage config:  reload: 'pm2 reload {{app}}'
//
// Cluster mode keeps the port open while `pm2 reload` replaces the workers one at a time;
// each new worker starts in `cwd`, which resolves `current` afresh, so it runs the release
// just switched to. On SIGINT (within kill_timeout) each worker should leave the cluster
// properly, so that no connection handed to it is lost:
//   process.on('SIGINT', () => { process.once('disconnect', () => process.exit(0));
//                                require('node:cluster').worker.disconnect(); });
// (worker.disconnect() closes the server and waits for the requests in flight.)
//
// Assets: while the workers are replaced one at a time, a page from a new worker names
// its new entry chunk (/assets/index-<hash>.js) and the browser's request for it can reach
// an old worker, whose release never had that file: a 404 and a blank page. Serve
// /assets/ from {{deployTo}}/current instead, as the nginx template does (current/ holds
// the new chunks, and with `assets: { dirs: ['dist/assets'] }` the previous ones too), or,
// with no web server in front, let the app look in {{deployTo}}/current/dist/assets for a
// file its own release lacks.
module.exports = {
  apps: [
    {
      name: '{{app}}',
      cwd: '{{deployTo}}/current',
      script: 'server.js',
      exec_mode: 'cluster',
      instances: 2,
      kill_timeout: 5000,
      listen_timeout: 10000,
      env: {
        NODE_ENV: 'production',
        PORT: '{{appPort}}',
      },
    },
  ],
};
