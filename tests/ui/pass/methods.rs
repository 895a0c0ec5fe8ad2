use capscope::requires_caps;

struct Server {
    hits: u32,
}

impl Server {
    #[requires_caps(net_bind_service)]
    fn by_ref(&self) -> u32 {
        self.hits
    }

    #[requires_caps(net_bind_service, on_missing = error)]
    fn by_mut(&mut self) -> capscope::Result<u32> {
        self.hits += 1;
        Ok(self.hits)
    }

    #[requires_caps(net_bind_service)]
    fn by_value(self) -> u32 {
        self.hits
    }

    #[requires_caps(net_bind_service)]
    fn associated(hits: u32) -> Self {
        Self { hits }
    }

    #[requires_caps(net_bind_service)]
    async fn by_ref_async(&self) -> u32 {
        self.hits
    }
}

trait Bind {
    fn bind(&mut self) -> std::io::Result<()>;
}

impl Bind for Server {
    #[requires_caps(net_bind_service)]
    fn bind(&mut self) -> std::io::Result<()> {
        self.hits += 1;
        Ok(())
    }
}

fn main() {
    let _ = (Server::by_ref, Server::by_mut, Server::by_value, Server::associated, Server::by_ref_async, <Server as Bind>::bind);
}
